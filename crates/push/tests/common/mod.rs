//! A fake remote-write receiver on 127.0.0.1: answers from a script, records
//! every request (headers and decoded body), stops when dropped.

#![allow(dead_code)]

pub mod prometheus;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use lakemetrics_push::proto::WriteRequest;
use prost::Message;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    pub headers: Vec<(String, String)>,
    pub body: WriteRequest,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `(metric name, timestamp, value)` of every sample, in request order.
    pub fn samples(&self) -> Vec<(String, i64, f64)> {
        let mut out = Vec::new();
        for ts in &self.body.timeseries {
            let name = ts.labels.iter().find(|l| l.name == "__name__").unwrap();
            for s in &ts.samples {
                out.push((name.value.clone(), s.timestamp, s.value));
            }
        }
        out
    }
}

/// Statuses to answer, each with an optional `Retry-After`.
type Script = Arc<Mutex<VecDeque<(u16, Option<String>)>>>;

pub struct Receiver {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    script: Script,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// A receiver that answers the scripted statuses (with an optional
    /// `Retry-After`) in turn, then 200 forever.
    pub fn start(script: &[(u16, Option<&str>)]) -> Receiver {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script: Script = Arc::new(Mutex::new(
            script
                .iter()
                .map(|(s, r)| (*s, r.map(str::to_string)))
                .collect::<VecDeque<_>>(),
        ));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (reqs, scr) = (requests.clone(), script.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                loop {
                    let (stream, _) = tokio::select! {
                        r = listener.accept() => match r { Ok(s) => s, Err(_) => continue },
                        _ = &mut stopped => return,
                    };
                    let (reqs, scr) = (reqs.clone(), scr.clone());
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                            let (reqs, scr) = (reqs.clone(), scr.clone());
                            async move {
                                let headers = req
                                    .headers()
                                    .iter()
                                    .map(|(k, v)| {
                                        (k.to_string(), v.to_str().unwrap_or("").to_string())
                                    })
                                    .collect();
                                let body = req.into_body().collect().await?.to_bytes();
                                let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
                                let body = WriteRequest::decode(raw.as_slice()).unwrap();
                                reqs.lock().unwrap().push(Recorded {
                                    at: Instant::now(),
                                    headers,
                                    body,
                                });
                                let (status, retry) =
                                    scr.lock().unwrap().pop_front().unwrap_or((200, None));
                                let mut resp = Response::builder().status(status);
                                if let Some(r) = retry {
                                    resp = resp.header("retry-after", r);
                                }
                                Ok::<_, hyper::Error>(
                                    resp.body(Full::new(Bytes::from_static(b"scripted")))
                                        .unwrap(),
                                )
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
        });
        Receiver {
            addr,
            requests,
            script,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/api/v1/write", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
