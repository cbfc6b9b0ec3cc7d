//! A real HTTP server that receives webhook deliveries, on its own thread
//! and runtime, answering as told (success, an error status, or slowly).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

/// How to answer the next request.
#[derive(Clone, Debug)]
pub enum Answer {
    Status(u16),
    /// Wait this long, then answer 200 (a client with a shorter timeout gives up).
    Slow(Duration),
    /// This status with this JSON body.
    Json(u16, String),
}

#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
    /// What was answered.
    pub answered: u16,
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    script: VecDeque<Answer>,
    /// Requests being answered now, and the most there ever were.
    in_flight: usize,
    max_in_flight: usize,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
    handle: actix_web::dev::ServerHandle,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Arc<Mutex<Shared>>>,
) -> HttpResponse {
    let answer = {
        let mut s = shared.lock().unwrap();
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        s.script.pop_front().unwrap_or(Answer::Status(200))
    };
    let status = match &answer {
        Answer::Status(s) | Answer::Json(s, _) => *s,
        Answer::Slow(_) => 200,
    };
    if let Answer::Slow(d) = answer {
        tokio::time::sleep(d).await;
    }
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let mut s = shared.lock().unwrap();
    s.in_flight -= 1;
    s.received.push(Received {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        answered: status,
    });
    let mut reply = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    match answer {
        Answer::Json(_, body) => reply.content_type("application/json").body(body),
        _ => reply.finish(),
    }
}

impl Receiver {
    pub fn start() -> Receiver {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel();
        let data = shared.clone();
        std::thread::spawn(move || {
            let sys = actix_web::rt::System::new();
            sys.block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(data.clone()))
                        .default_service(web::to(receive))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                tx.send(server.handle()).unwrap();
                let _ = server.await;
            });
        });
        let handle = rx.recv().unwrap();
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks"),
            shared,
            handle,
        }
    }

    /// Answers the next requests in this order (then 200s), replacing any
    /// script not yet used up.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.lock().unwrap().script = answers.into_iter().collect();
    }

    /// Every request received, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }

    /// The most requests it was ever answering at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.lock().unwrap().max_in_flight
    }

    /// The bodies of the requests answered 2xx, parsed.
    pub fn accepted(&self) -> Vec<serde_json::Value> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}
