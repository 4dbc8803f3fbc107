//! `demo --token` (or `LAKEMETRICS_TOKEN`): every HTTP request needs the token,
//! and the token read from the environment stays off the command line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_lakemetrics");
const TOKEN: &str = "k3y-0f-the-demo-2c9f1e";

/// The status code of `GET path` with an optional bearer token.
fn status(addr: &str, path: &str, token: Option<&str>) -> u16 {
    let mut s = TcpStream::connect(addr).expect("connect to the demo");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut head = String::new();
    let _ = s.read_to_string(&mut head);
    head.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_token_from_the_environment_guards_every_endpoint() {
    let out = std::env::temp_dir().join(format!("lakemetrics-demo-token-{}", std::process::id()));
    let mut child = Command::new(BIN)
        .args(["demo", "-q", "--duration", "4s", "--seed", "3"])
        .args(["--listen", "127.0.0.1:0", "--out-dir"])
        .arg(&out)
        .env("LAKEMETRICS_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the lakemetrics binary");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let dashboard = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("Dashboard:"))
        .expect("the dashboard's address");
    assert!(dashboard.contains("token required"), "{dashboard}");
    assert!(!dashboard.contains(TOKEN), "{dashboard}");
    let addr = dashboard
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("an address")
        .to_string();
    for path in ["/metrics", "/api/v1/series?start=-1m", "/"] {
        assert_eq!(status(&addr, path, None), 401, "{path} without the token");
        assert_eq!(
            status(&addr, path, Some("wrong-token-0123456789")),
            401,
            "{path}"
        );
        assert_eq!(
            status(&addr, path, Some(TOKEN)),
            200,
            "{path} with the token"
        );
    }
    // Off the command line: what `ps` shows is /proc/<pid>/cmdline.
    #[cfg(target_os = "linux")]
    {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
        assert!(!String::from_utf8_lossy(&cmdline).contains(TOKEN));
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&out);
    assert!(status.success(), "{rest:?}");
}
