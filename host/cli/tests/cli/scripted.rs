//! A loopback HTTP server that answers each connection with the next of a
//! fixed list of raw responses, for what `wpool_tests::http::TestServer`
//! does not do: a body that stalls halfway, `Retry-After`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

/// How to answer one connection.
pub(crate) enum Reply {
    /// Send these bytes, then close.
    Send(String),
    /// Send these bytes, then wait, connection open, for the client to leave.
    Stall(String),
}

/// A server on `127.0.0.1` answering connections with `replies` in order.
/// Dropping it joins its thread once every reply is given.
pub(crate) struct Scripted {
    url: String,
    arrivals: mpsc::Receiver<Instant>,
    thread: Option<JoinHandle<()>>,
}

impl Scripted {
    pub(crate) fn start(replies: Vec<Reply>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/item", listener.local_addr().unwrap());
        let (arrived, arrivals) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            for reply in replies {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                read_request(&stream);
                let _ = arrived.send(Instant::now());
                answer(stream, reply);
            }
        });
        Scripted {
            url,
            arrivals,
            thread: Some(thread),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// When each request arrived, so far.
    pub(crate) fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.try_iter().collect()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads the request head (GET requests have no body).
fn read_request(stream: &TcpStream) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        if line == "\r\n" {
            return;
        }
        line.clear();
    }
}

fn answer(mut stream: TcpStream, reply: Reply) {
    match reply {
        Reply::Send(bytes) => {
            let _ = stream.write_all(bytes.as_bytes());
            let _ = stream.shutdown(Shutdown::Write);
        }
        Reply::Stall(bytes) => {
            let _ = stream.write_all(bytes.as_bytes());
            // Until the client gives up and closes its end.
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }
}

/// A complete response with `Connection: close`.
pub(crate) fn response(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}
