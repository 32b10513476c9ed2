//! A tiny HTTP/1.1 webhook receiver on a free loopback port: answers every POST with 200 (keeping
//! the connection alive) and records when each body arrived.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// One request body and when it had been read.
pub type Hit = (Instant, Vec<u8>);

/// The receiver. `Drop` stops it.
#[derive(Debug)]
pub struct Webhook {
    port: u16,
    hits: Arc<Mutex<Vec<Hit>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Webhook {
    /// Starts listening on 127.0.0.1, a free port.
    pub fn start() -> Result<Webhook> {
        let listener = TcpListener::bind("127.0.0.1:0").context("bind the webhook receiver")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (hits, stop) = (hits.clone(), stop.clone());
            std::thread::spawn(move || accept(&listener, &hits, &stop))
        };
        Ok(Webhook {
            port,
            hits,
            stop,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept(listener: &TcpListener, hits: &Arc<Mutex<Vec<Hit>>>, stop: &Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (hits, stop) = (hits.clone(), stop.clone());
                // Detached: a connection ends at EOF, on its read timeout, or at stop.
                std::thread::spawn(move || serve(stream, &hits, &stop));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

fn serve(stream: TcpStream, hits: &Mutex<Vec<Hit>>, stop: &AtomicBool) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    // Bounded: a connection serves at most this many requests.
    for _ in 0..1_000_000 {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match read_request(&mut reader) {
            Ok(Some(body)) => {
                hits.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((Instant::now(), body));
                let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                              Content-Length: 11\r\n\r\n{\"ok\":true}";
                if writer.write_all(answer.as_bytes()).is_err() {
                    return;
                }
            }
            Ok(None) => return,
            // A read timeout between requests: keep the connection, look at `stop` again.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// One request's body; `None` at EOF.
fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Vec<u8>>> {
    let mut length = 0usize;
    let mut first = true;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if first && line.trim().is_empty() {
            continue;
        }
        first = false;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    Ok(Some(body))
}
