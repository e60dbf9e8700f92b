//! The HTTP target every generator hits: nginx pinned to core 0, else this
//! bench's own one-thread hyper server.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::child::Child;
use crate::support::{free_port, have, Placement};
use crate::{spawn, Result, START_TIMEOUT};

/// The HTTP server every generator hits.
pub(crate) struct Target {
    /// The server's process (nginx's master, or the hyper target).
    pub(crate) proc: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    /// A line for the header.
    pub(crate) description: String,
}

impl Target {
    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Debian's `/usr/sbin/nginx`, else `nginx` on PATH.
pub(crate) fn find_nginx() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/sbin/nginx");
    if debian.exists() {
        return Some(debian);
    }
    have("nginx", "-v").then(|| PathBuf::from("nginx"))
}

/// Starts `nginx` on core 0 with its own configuration under `dir`, and
/// waits until it accepts connections.
pub(crate) fn start_nginx(nginx: &Path, placement: &Placement, dir: &Path) -> Result<Target> {
    let prefix = dir.join("nginx");
    std::fs::create_dir_all(&prefix)?;
    let port = free_port()?;
    let p = prefix.display();
    // worker_cpu_affinity pins the worker even if taskset is missing.
    let config = format!(
        "worker_processes 1;\n\
         worker_cpu_affinity 1;\n\
         daemon off;\n\
         pid {p}/nginx.pid;\n\
         error_log {p}/error.log warn;\n\
         events {{ worker_connections 16384; }}\n\
         http {{\n\
         \x20 access_log off;\n\
         \x20 keepalive_requests 10000000;\n\
         \x20 keepalive_timeout 300;\n\
         \x20 client_body_temp_path {p}/client_body;\n\
         \x20 proxy_temp_path {p}/proxy;\n\
         \x20 fastcgi_temp_path {p}/fastcgi;\n\
         \x20 uwsgi_temp_path {p}/uwsgi;\n\
         \x20 scgi_temp_path {p}/scgi;\n\
         \x20 server {{\n\
         \x20   listen 127.0.0.1:{port};\n\
         \x20   location / {{ return 200 \"ok\"; }}\n\
         \x20 }}\n\
         }}\n"
    );
    let conf = prefix.join("nginx.conf");
    std::fs::write(&conf, config)?;
    let mut command = placement.command(0, nginx);
    command
        .arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(prefix.join("error.log"));
    let mut proc = spawn("nginx", &mut command)?;
    if let Err(e) = wait_accepting(&mut proc, port) {
        let log = std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default();
        return Err(format!("{e}\n  nginx error.log:\n    {}", log.trim_end()).into());
    }
    Ok(Target {
        proc,
        port,
        description: format!(
            "nginx ({}), 1 worker, `return 200 \"ok\"`, 127.0.0.1:{port}",
            nginx.display()
        ),
    })
}

/// Starts this bench as the hyper target on core 0, and waits until it
/// accepts connections.
pub(crate) fn start_hyper_target(placement: &Placement) -> Result<Target> {
    let mut command = placement.command(0, std::env::current_exe()?);
    command.arg("--hyper-target");
    let mut proc = spawn("hyper-target", &mut command)?;
    let port = proc.announced_port(START_TIMEOUT)?;
    wait_accepting(&mut proc, port)?;
    Ok(Target {
        proc,
        port,
        description: format!(
            "this bench's one-thread hyper server (nginx not installed), 127.0.0.1:{port}"
        ),
    })
}

/// The fallback target: hyper over HTTP/1.1, answering every request `200 ok`.
pub(crate) fn hyper_target() -> Result<()> {
    Ok(crate::support::ok_target(false)?)
}

/// Waits until 127.0.0.1:`port` accepts connections.
fn wait_accepting(proc: &mut Child, port: u16) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(status) = proc.try_wait() {
            return Err(proc
                .failure(&format!("exited ({status}) before accepting connections"))
                .into());
        }
        if Instant::now() > deadline {
            return Err(proc
                .failure(&format!(
                    "did not accept on port {port} within {START_TIMEOUT:?}"
                ))
                .into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
