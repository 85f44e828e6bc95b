//! axe-core's accessibility checks run in the page, and where its script comes from.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use fantoccini::Client;
use serde::Deserialize;
use serde_json::json;
use tokio::process::Command;
use tokio::sync::OnceCell;

use super::{AXE_CORE_SPEC, AXE_TAGS, HarnessError, NPM_TIMEOUT, Result, unique_dir};

// ---------------------------------------------------------------------------
// axe-core
// ---------------------------------------------------------------------------

/// One failed axe rule and the page nodes that fail it.
#[derive(Debug, Clone, Deserialize)]
pub struct Violation {
    pub id: String,
    pub impact: Option<String>,
    pub help: String,
    #[serde(rename = "helpUrl")]
    pub help_url: String,
    /// One CSS selector per failing node (frames/shadow roots joined by ` >>> `).
    pub targets: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let impact = self.impact.as_deref().unwrap_or("unknown");
        write!(
            f,
            "{} [{impact}]: {} ({})",
            self.id, self.help, self.help_url
        )?;
        for target in &self.targets {
            write!(f, "\n      at {target}")?;
        }
        Ok(())
    }
}

/// A readable list of violations, for assertion messages.
pub fn describe(violations: &[Violation]) -> String {
    if violations.is_empty() {
        return "no axe violations".to_owned();
    }
    let mut text = format!(
        "{} axe violation(s) ({}):",
        violations.len(),
        AXE_TAGS.join(", ")
    );
    for violation in violations {
        text.push_str("\n  - ");
        text.push_str(&violation.to_string());
    }
    text
}

/// The ids of the violated rules, sorted.
pub fn rule_ids(violations: &[Violation]) -> Vec<&str> {
    let mut ids: Vec<&str> = violations.iter().map(|v| v.id.as_str()).collect();
    ids.sort_unstable();
    ids
}

const AXE_PRESENT_JS: &str =
    "return typeof window.axe === 'object' && typeof window.axe.run === 'function';";

const AXE_RUN_JS: &str = r#"
const done = arguments[arguments.length - 1];
window.axe.run(document, arguments[0]).then(function (results) {
  done({ violations: results.violations.map(function (v) {
    return {
      id: v.id,
      impact: v.impact || null,
      help: v.help,
      helpUrl: v.helpUrl,
      targets: v.nodes.map(function (n) {
        return n.target.map(function (t) { return Array.isArray(t) ? t.join(' >>> ') : String(t); }).join(' >>> ');
      })
    };
  }) });
}, function (e) {
  done({ error: String((e && e.stack) || e) });
});
"#;

/// Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the current page and
/// returns its violations. axe-core is injected through WebDriver script
/// execution, which page Content-Security-Policy does not block.
pub async fn axe(client: &Client) -> Result<Vec<Violation>> {
    let present = client.execute(AXE_PRESENT_JS, vec![]).await?;
    if present != json!(true) {
        let source = axe_source().await?;
        let inject = format!("{source}\n;return typeof window.axe === 'object';");
        let injected = client.execute(&inject, vec![]).await?;
        if injected != json!(true) {
            return Err(HarnessError(
                "injecting axe-core did not define window.axe on the page".to_owned(),
            ));
        }
    }
    let options = json!({
        "runOnly": { "type": "tag", "values": AXE_TAGS },
        "resultTypes": ["violations"],
    });
    let outcome = client.execute_async(AXE_RUN_JS, vec![options]).await?;
    if let Some(error) = outcome.get("error") {
        return Err(HarnessError(format!("axe.run failed: {error}")));
    }
    let violations = outcome
        .get("violations")
        .cloned()
        .ok_or_else(|| HarnessError(format!("unexpected axe result: {outcome}")))?;
    Ok(serde_json::from_value(violations)?)
}

static AXE_SOURCE: OnceCell<String> = OnceCell::const_new();

/// The axe-core source, loaded once per test binary.
async fn axe_source() -> Result<&'static str> {
    AXE_SOURCE
        .get_or_try_init(load_axe_source)
        .await
        .map(String::as_str)
}

async fn load_axe_source() -> Result<String> {
    let path = match std::env::var_os("AXE_CORE_JS").filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => fetch_axe_core().await?,
    };
    let source = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| HarnessError(format!("cannot read axe-core from {}: {e}", path.display())))?;
    if !source.contains("axe") {
        return Err(HarnessError(format!(
            "{} does not look like axe-core",
            path.display()
        )));
    }
    Ok(source)
}

/// Installs axe-core with npm into `target/tmp/axe-core` unless it is already
/// there, and returns the path of `axe.min.js`. Concurrent test binaries are
/// safe: each installs into its own staging directory and renames it into
/// place; a rename that loses the race is discarded.
async fn fetch_axe_core() -> Result<PathBuf> {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("axe-core");
    let axe_js = |root: &Path| {
        root.join("node_modules")
            .join("axe-core")
            .join("axe.min.js")
    };
    if axe_js(&cache).is_file() {
        return Ok(axe_js(&cache));
    }
    let staging = unique_dir("axe-core.staging")?;
    let mut npm = Command::new("npm");
    npm.args([
        "install",
        "--no-save",
        "--no-package-lock",
        "--no-audit",
        "--no-fund",
    ])
    .args(["--ignore-scripts", "--loglevel=error", "--prefix"])
    .arg(&staging)
    .arg(AXE_CORE_SPEC)
    .env("npm_config_update_notifier", "false")
    .stdin(Stdio::null())
    .kill_on_drop(true);
    let hint = "install npm, or set AXE_CORE_JS=/path/to/axe.min.js";
    let failure = match tokio::time::timeout(NPM_TIMEOUT, npm.output()).await {
        Err(_) => Some(format!(
            "npm install {AXE_CORE_SPEC} took over {NPM_TIMEOUT:?}"
        )),
        Ok(Err(e)) => Some(format!("cannot run npm to fetch {AXE_CORE_SPEC}: {e}")),
        Ok(Ok(output)) if !output.status.success() || !axe_js(&staging).is_file() => Some(format!(
            "npm install {AXE_CORE_SPEC} failed ({})\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )),
        Ok(Ok(_)) => None,
    };
    if let Some(failure) = failure {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(HarnessError(format!("{failure}\n{hint}")));
    }
    if std::fs::rename(&staging, &cache).is_err() {
        // Another test binary finished first; use its copy.
        let _ = std::fs::remove_dir_all(&staging);
    }
    let path = axe_js(&cache);
    if path.is_file() {
        Ok(path)
    } else {
        Err(HarnessError(format!(
            "axe-core missing at {} after npm install",
            path.display()
        )))
    }
}
