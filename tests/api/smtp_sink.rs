//! A real SMTP server for the suite: it speaks the protocol over TCP on a
//! loopback port (EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA with dot
//! unstuffing, RSET, NOOP, QUIT), keeps every message it accepts, and
//! answers the end of DATA as scripted (accept, or a 4xx/5xx reply).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How to answer the end of the next message's DATA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    Accept,
    /// A transient refusal, e.g. 451.
    Temporary(u16),
    /// A permanent refusal, e.g. 554.
    Permanent(u16),
}

/// A message the server took.
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body, CRLF line ends).
    pub data: String,
    /// The user name it authenticated as, if it did.
    pub user: Option<String>,
    pub password: Option<String>,
}

impl Mail {
    /// The message, parsed as a mail client would.
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(self.data.as_bytes())
            .expect("a parseable message")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or("").to_owned()
    }

    /// The plain-text body.
    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    /// The HTML body.
    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    /// The `text/calendar` attachment's content type and text, if any.
    pub fn calendar(&self) -> Option<(String, String)> {
        let message = self.parsed();
        for part in message.attachments() {
            let Some(ct) = mail_parser::MimeHeaders::content_type(part) else {
                continue;
            };
            if ct.ctype() == "text" && ct.subtype() == Some("calendar") {
                let method = ct.attribute("method").unwrap_or("").to_owned();
                let body = String::from_utf8(part.contents().to_vec()).unwrap();
                return Some((method, body));
            }
        }
        None
    }

    /// Everything a reader could see: headers, decoded text and HTML, and
    /// the attachment.
    pub fn everything(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}",
            self.data,
            self.subject(),
            self.text(),
            self.html(),
            self.calendar().map(|c| c.1).unwrap_or_default()
        )
    }
}

#[derive(Default)]
struct Shared {
    accepted: Vec<Mail>,
    refused: usize,
    script: VecDeque<Reply>,
}

pub struct SmtpSink {
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let data = shared.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                let serve = async {
                    loop {
                        let Ok((socket, _)) = listener.accept().await else {
                            continue;
                        };
                        tokio::spawn(session(socket, data.clone()));
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stop_rx => {}
                }
            });
        });
        SmtpSink {
            port,
            shared,
            stop: Some(stop_tx),
        }
    }

    /// `smtp://user:password@127.0.0.1:<port>` (plain SMTP with AUTH).
    pub fn url(&self) -> String {
        format!("smtp://sender:s3cret@127.0.0.1:{}", self.port)
    }

    /// Answers the next messages in this order (then accepts).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.lock().unwrap().script = replies.into_iter().collect();
    }

    /// Every message accepted, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        self.shared.lock().unwrap().accepted.clone()
    }

    /// How many messages were refused at the end of DATA.
    pub fn refused(&self) -> usize {
        self.shared.lock().unwrap().refused
    }

    /// Waits (up to 20 s) until at least `n` messages were accepted.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        self.wait_until(|mails| mails.len() >= n).await
    }

    /// Waits (up to 20 s) until the messages accepted satisfy `done`.
    pub async fn wait_until(&self, done: impl Fn(&[Mail]) -> bool) -> Vec<Mail> {
        for _ in 0..200 {
            let mails = self.mails();
            if done(&mails) {
                return mails;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("still waiting; got {} messages", self.mails().len());
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Decodes standard base64 (AUTH arguments).
fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(value) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

async fn session(socket: tokio::net::TcpStream, shared: Arc<Mutex<Shared>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    macro_rules! reply {
        ($($arg:tt)*) => {{
            let text = format!($($arg)*);
            if write.write_all(format!("{text}\r\n").as_bytes()).await.is_err() {
                return;
            }
        }};
    }
    let mut line = String::new();
    macro_rules! read_line {
        () => {{
            line.clear();
            match lines.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => line.trim_end_matches(['\r', '\n']).to_owned(),
            }
        }};
    }
    reply!("220 sink.test ESMTP ready");
    let (mut from, mut to) = (String::new(), Vec::new());
    let (mut user, mut password): (Option<String>, Option<String>) = (None, None);
    loop {
        let command = read_line!();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            reply!("250-sink.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME");
        } else if upper.starts_with("HELO") {
            reply!("250 sink.test");
        } else if upper.starts_with("AUTH PLAIN") {
            let arg = match command.split_whitespace().nth(2) {
                Some(a) => a.to_owned(),
                None => {
                    reply!("334 ");
                    read_line!()
                }
            };
            let decoded = base64_decode(&arg);
            let parts: Vec<String> = decoded
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            user = parts.get(1).cloned();
            password = parts.get(2).cloned();
            reply!("235 2.7.0 Authentication successful");
        } else if upper.starts_with("AUTH LOGIN") {
            reply!("334 VXNlcm5hbWU6");
            let u = read_line!();
            reply!("334 UGFzc3dvcmQ6");
            let p = read_line!();
            user = Some(String::from_utf8_lossy(&base64_decode(&u)).into_owned());
            password = Some(String::from_utf8_lossy(&base64_decode(&p)).into_owned());
            reply!("235 2.7.0 Authentication successful");
        } else if upper.starts_with("MAIL FROM:") {
            from = command[10..].trim().to_owned();
            to.clear();
            reply!("250 2.1.0 Ok");
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim().to_owned());
            reply!("250 2.1.5 Ok");
        } else if upper == "DATA" {
            reply!("354 End data with <CR><LF>.<CR><LF>");
            let mut data = String::new();
            loop {
                let l = read_line!();
                if l == "." {
                    break;
                }
                let l = if l.starts_with("..") { &l[1..] } else { &l[..] };
                data.push_str(l);
                data.push_str("\r\n");
            }
            let answer = shared
                .lock()
                .unwrap()
                .script
                .pop_front()
                .unwrap_or(Reply::Accept);
            match answer {
                Reply::Accept => {
                    let n = {
                        let mut s = shared.lock().unwrap();
                        s.accepted.push(Mail {
                            from: from.clone(),
                            to: to.clone(),
                            data,
                            user: user.clone(),
                            password: password.clone(),
                        });
                        s.accepted.len()
                    };
                    reply!("250 2.0.0 Ok: queued as SINK{n}");
                }
                Reply::Temporary(code) => {
                    shared.lock().unwrap().refused += 1;
                    reply!("{code} 4.3.0 Try again later");
                }
                Reply::Permanent(code) => {
                    shared.lock().unwrap().refused += 1;
                    reply!("{code} 5.7.1 Message refused");
                }
            }
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            reply!("250 2.0.0 Ok");
        } else if upper == "NOOP" {
            reply!("250 2.0.0 Ok");
        } else if upper == "QUIT" {
            reply!("221 2.0.0 Bye");
            let _ = write.shutdown().await;
            return;
        } else {
            reply!("502 5.5.2 Command not recognised");
        }
    }
}
