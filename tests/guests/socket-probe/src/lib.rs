//! Tries to reach the network and reports each outcome. Input: a JSON object
//! with any of `tcp` (an address or `host:port` to connect to and send
//! `hello` to), `udp` (an address to send a datagram to), `dns` (a name to
//! look up), `hold` (an address to open `count` connections to, kept open
//! to the end; reports how many opened); a bare string is the address for
//! both `tcp` and `udp`, with a lookup of `localhost`.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};

use serde_json::{Value, json};

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

fn report<T>(result: std::io::Result<T>) -> Value {
    match result {
        Ok(_) => json!({ "ok": true }),
        Err(e) => json!({ "ok": false, "error": e.to_string() }),
    }
}

impl Guest for Task {
    fn run(input: String, _ctx: Context) -> Result<String, TaskError> {
        let request: Value = serde_json::from_str(&input).unwrap_or_default();
        let request = match request {
            Value::String(addr) => json!({ "tcp": addr, "udp": addr, "dns": "localhost" }),
            other => other,
        };
        let mut out = json!({});
        if let Some(addr) = request["tcp"].as_str() {
            out["tcp"] = report(TcpStream::connect(addr).and_then(|mut s| s.write_all(b"hello")));
        }
        if let Some(addr) = request["udp"].as_str() {
            out["udp"] =
                report(UdpSocket::bind("0.0.0.0:0").and_then(|s| s.send_to(b"hello", addr)));
        }
        if let Some(addr) = request["hold"].as_str() {
            let mut held = Vec::new();
            let mut error = None;
            for _ in 0..request["count"].as_u64().unwrap_or(1) {
                match TcpStream::connect(addr) {
                    Ok(stream) => held.push(stream),
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                }
            }
            out["hold"] = json!({ "opened": held.len(), "error": error });
        }
        if let Some(name) = request["dns"].as_str() {
            out["dns"] = match (name, 80).to_socket_addrs() {
                Ok(addrs) => {
                    let ips: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
                    json!({ "ok": true, "addresses": ips })
                }
                Err(e) => json!({ "ok": false, "error": e.to_string() }),
            };
        }
        Ok(out.to_string())
    }
}
