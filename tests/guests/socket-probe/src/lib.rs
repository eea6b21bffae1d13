//! Tries to reach the network: a TCP connection to the address in its input,
//! a UDP datagram to it, and a DNS lookup. Reports each outcome.

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
        let addr = input.trim().trim_matches('"').to_owned();
        let tcp = report(TcpStream::connect(&addr).and_then(|mut s| s.write_all(b"hello")));
        let udp = report(UdpSocket::bind("0.0.0.0:0").and_then(|s| s.send_to(b"hello", &addr)));
        let dns = report(("localhost", 80).to_socket_addrs());
        Ok(json!({ "tcp": tcp, "udp": udp, "dns": dns }).to_string())
    }
}
