//! Query strings and form bodies, read leniently so that no input can make an extractor fail:
//! handlers decide what is missing or repeated and answer with the right error.

pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: &[u8]) -> Params {
        Params(
            url::form_urlencoded::parse(raw)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(crate) fn from_query(raw: Option<&str>) -> Params {
        Params::parse(raw.unwrap_or_default().as_bytes())
    }

    /// The first value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// RFC 6749 §3.1: request parameters must not be included more than once.
    pub(crate) fn repeated(&self, names: &[&'static str]) -> Option<&'static str> {
        names
            .iter()
            .find(|name| self.0.iter().filter(|(k, _)| k == *name).count() > 1)
            .copied()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn values_are_decoded_and_empty_ones_are_absent() {
        let p = Params::parse(b"a=x+y%21&b=&c=%FF");
        assert_eq!(p.get("a"), Some("x y!"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("\u{FFFD}"));
        assert_eq!(p.get("d"), None);
    }

    #[test]
    fn repeated_names_are_found() {
        let p = Params::from_query(Some("state=1&scope=a&state=2"));
        assert_eq!(p.repeated(&["scope", "state"]), Some("state"));
        assert_eq!(p.repeated(&["scope"]), None);
    }
}
