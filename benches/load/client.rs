//! The load generator's HTTP client: one keep-alive HTTP/1.1 connection, reopened if the server
//! closes it, and a browser's cookie jar.

use std::fmt::Write as _;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub cookies: Vec<String>,
    pub body: Bytes,
}

pub struct Conn {
    port: u16,
    host: String,
    sender: Option<http1::SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub fn new(port: u16) -> Self {
        Self {
            port,
            host: format!("127.0.0.1:{port}"),
            sender: None,
        }
    }

    async fn connect(&mut self) -> Result<&mut http1::SendRequest<Full<Bytes>>, String> {
        let usable = self.sender.as_ref().is_some_and(|s| !s.is_closed());
        if !usable {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .map_err(|e| format!("connect: {e}"))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            tokio::task::spawn_local(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().unwrap())
    }

    pub async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        cookies: &[(String, String)],
        form: Option<String>,
    ) -> Result<Answer, String> {
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(HOST, &self.host);
        if !cookies.is_empty() {
            let mut header = String::new();
            for (name, value) in cookies {
                if !header.is_empty() {
                    header.push_str("; ");
                }
                let _ = write!(header, "{name}={value}");
            }
            request = request.header(COOKIE, header);
        }
        let body = match form {
            Some(form) => {
                request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(form))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request.body(body).map_err(|e| e.to_string())?;
        let sender = self.connect().await?;
        sender.ready().await.map_err(|e| format!("ready: {e}"))?;
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(e) => {
                self.sender = None;
                return Err(format!("request: {e}"));
            }
        };
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let cookies = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok(Answer {
            status,
            location,
            cookies,
            body,
        })
    }
}

/// A browser's cookies for one site: name → value (attributes are not needed here).
#[derive(Default)]
pub struct Jar(pub Vec<(String, String)>);

impl Jar {
    pub fn take(&mut self, answer: &Answer) {
        for cookie in &answer.cookies {
            let pair = cookie.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                self.0.retain(|(n, _)| n != name.trim());
                self.0
                    .push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
    }
}
