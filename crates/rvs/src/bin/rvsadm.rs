//! rvsadm: ipvsadm over rvsd's control socket. It holds no logic of its own: argv goes
//! through `rvs_ctl::parse`, the command goes to the daemon as a control message, and the
//! reply is printed with `rvs_ctl::format` / `rvs_ctl::reply`, as ipvsadm would print it.
//!
//! Invoked as `ipvsadm-save` it is `ipvsadm -S ...`; as `ipvsadm-restore`, `ipvsadm -R`.

#![forbid(unsafe_code)]

use rvs_ctl::cmd::{Command, ListTarget};
use rvs_ctl::proto::{self, Request, RequestBody, Response, DEFAULT_SOCKET};
use rvs_ctl::reply::{strerror, EXIT_LIST_ERROR, EXIT_TABLE_ERROR};
use rvs_ctl::resolve::StdResolver;
use rvs_ctl::{format, help, restore};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::exit;

/// What a failed exchange with the daemon turns into: a message for stderr and a status.
struct Failure {
    message: String,
    code: i32,
}

/// The control socket client for one invocation.
struct Client {
    program: String,
    path: PathBuf,
}

impl Client {
    fn request(&self, body: RequestBody) -> Result<Response, Failure> {
        let mut s = UnixStream::connect(&self.path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                "you must be root"
            } else {
                "is rvsd running?"
            };
            Failure {
                message: format!(
                    "{}: cannot reach rvsd at {}: {e} ({hint})",
                    self.program,
                    self.path.display()
                ),
                code: 1,
            }
        })?;
        let talk = |s: &mut UnixStream| -> Result<Response, proto::ProtoError> {
            proto::write_msg(s, &Request::new(body))?;
            proto::read_msg(s)
        };
        talk(&mut s).map_err(|e| Failure {
            message: format!("{}: rvsd at {}: {e}", self.program, self.path.display()),
            code: 1,
        })
    }

    fn unexpected(&self, r: &Response) -> Failure {
        Failure {
            message: format!(
                "{}: unexpected reply from rvsd: {}",
                self.program,
                variant_name(r)
            ),
            code: 1,
        }
    }
}

fn variant_name(r: &Response) -> &'static str {
    match r {
        Response::Ok => "Ok",
        Response::Error { .. } => "Error",
        Response::Table(_) => "Table",
        Response::Conns(_) => "Conns",
        Response::Timeouts(_) => "Timeouts",
        Response::Daemons(_) => "Daemons",
        Response::IoStats(_) => "IoStats",
        Response::CheckStatus(_) => "CheckStatus",
        Response::VrrpStatus(_) => "VrrpStatus",
    }
}

fn basename(arg0: &str) -> String {
    Path::new(arg0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ipvsadm".to_string())
}

/// argv as ipvsadm would see it: the program name first, with the save/restore aliases
/// turned into ipvsadm's own options.
fn effective_args(mut args: Vec<String>) -> Vec<String> {
    let name = args.first().map(|a| basename(a)).unwrap_or_default();
    let extra = match name.as_str() {
        "ipvsadm-save" => Some("-S"),
        "ipvsadm-restore" => Some("-R"),
        _ => None,
    };
    match extra {
        Some(opt) => {
            // Their messages are ipvsadm's, as Debian's scripts run ipvsadm itself.
            let rest = args.split_off(1.min(args.len()));
            let mut v = vec!["ipvsadm".to_string(), opt.to_string()];
            v.extend(rest);
            v
        }
        None => {
            if let Some(a) = args.first_mut() {
                *a = if name.is_empty() {
                    "ipvsadm".into()
                } else {
                    name
                };
            } else {
                args.push("ipvsadm".into());
            }
            args
        }
    }
}

/// The text ipvsadm prints for a refused change, and its status.
fn refusal(cmd: &Command, errno: Option<rvs_ctl::reply::Errno>, message: &str) -> String {
    match errno {
        Some(e) => strerror(cmd, e).to_string(),
        None => message.to_string(),
    }
}

fn apply(client: &Client, cmd: Command) -> Result<String, Failure> {
    match client.request(RequestBody::Apply(vec![cmd.clone()]))? {
        Response::Ok => Ok(String::new()),
        Response::Error { errno, message, .. } => Err(Failure {
            message: refusal(&cmd, errno, &message),
            code: EXIT_TABLE_ERROR,
        }),
        r => Err(client.unexpected(&r)),
    }
}

fn restore_stdin(client: &Client) -> Result<String, Failure> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| Failure {
            message: format!("{}: reading stdin: {e}", client.program),
            code: 1,
        })?;
    let cmds =
        restore::parse_restore(&input, &client.program, &StdResolver).map_err(|e| Failure {
            message: e.to_string(),
            code: e.error.exit_code,
        })?;
    if cmds.is_empty() {
        return Ok(String::new());
    }
    match client.request(RequestBody::Apply(cmds.clone()))? {
        Response::Ok => Ok(String::new()),
        Response::Error {
            index,
            errno,
            message,
        } => {
            let text = match cmds.get(index) {
                Some(cmd) => refusal(cmd, errno, &message),
                None => message,
            };
            // Every line with words made exactly one command, so the index names the line.
            let line = input
                .lines()
                .enumerate()
                .filter(|(_, l)| !restore::line_words(l).is_empty())
                .nth(index)
                .map(|(i, _)| i + 1);
            let message = match line {
                Some(n) => format!("line {n}: {text}"),
                None => text,
            };
            Err(Failure {
                message,
                code: EXIT_TABLE_ERROR,
            })
        }
        r => Err(client.unexpected(&r)),
    }
}

fn get_table(client: &Client) -> Result<format::Table, Failure> {
    match client.request(RequestBody::GetTable)? {
        Response::Table(t) => Ok(t),
        Response::Error { message, .. } => Err(Failure {
            message,
            code: EXIT_LIST_ERROR,
        }),
        r => Err(client.unexpected(&r)),
    }
}

fn run(client: &Client, cmd: Command) -> Result<String, Failure> {
    let names = StdResolver;
    match cmd {
        Command::Help => Ok(help::usage(&client.program)),
        Command::Version => Ok(help::version()),
        Command::Restore => restore_stdin(client),
        Command::Save { numeric } => Ok(format::save(&get_table(client)?, numeric, &names)),
        Command::List(ref spec) => {
            let f = &spec.format;
            match &spec.target {
                ListTarget::All => Ok(format::list_all(&get_table(client)?, f, &names)),
                ListTarget::Service(key) => {
                    let table = get_table(client)?;
                    match table.services.iter().find(|s| s.spec.key == *key) {
                        Some(se) => Ok(format::list_service(se, f, &names)),
                        None => Err(Failure {
                            message: strerror(&cmd, rvs_ctl::reply::Errno::NoSuchService)
                                .to_string(),
                            code: EXIT_LIST_ERROR,
                        }),
                    }
                }
                ListTarget::Connections => match client.request(RequestBody::GetConns)? {
                    Response::Conns(c) => Ok(format::list_conns(&c, f, &names)),
                    r => Err(list_failure(client, r)),
                },
                ListTarget::Timeout => match client.request(RequestBody::GetTimeouts)? {
                    Response::Timeouts(t) => Ok(format::list_timeout(&t)),
                    r => Err(list_failure(client, r)),
                },
                ListTarget::Daemon => match client.request(RequestBody::GetDaemons)? {
                    Response::Daemons(d) => Ok(format::list_daemon(&d)),
                    r => Err(list_failure(client, r)),
                },
            }
        }
        cmd => apply(client, cmd),
    }
}

fn list_failure(client: &Client, r: Response) -> Failure {
    match r {
        Response::Error { message, .. } => Failure {
            message,
            code: EXIT_LIST_ERROR,
        },
        r => client.unexpected(&r),
    }
}

/// `rvsadm --io-stats`, our extension: the data path's counters, one per line, grouped by
/// section, plus the engine's drop reasons.
fn io_stats(client: &Client) -> Result<String, Failure> {
    match client.request(RequestBody::GetIoStats)? {
        Response::IoStats(rows) => {
            let mut out = String::new();
            let mut section = "";
            for (sec, name, v) in &rows {
                if sec != section {
                    out.push_str(&format!("{sec}:\n"));
                    section = sec;
                }
                out.push_str(&format!("  {name:<28} {v}\n"));
            }
            Ok(out)
        }
        r => Err(client.unexpected(&r)),
    }
}

/// `rvsadm --vrrp-status`, our extension: `keepalived --signum=DATA`'s facts, one
/// `Key = value` per line. With no VRRP instance configured, stdout stays empty (as ipvsadm
/// lists nothing for nothing) and stderr says so; exit 0 either way, because asking is not
/// an error. A configured VRRP that could not start is one (status 1).
fn vrrp_status(client: &Client) -> Result<String, Failure> {
    match client.request(RequestBody::GetVrrpStatus)? {
        Response::VrrpStatus(lines) => {
            if lines.is_empty() {
                eprintln!("{}: rvsd runs no VRRP instance", client.program);
            }
            Ok(lines.iter().map(|l| format!("{l}\n")).collect())
        }
        Response::Error { message, .. } => Err(Failure {
            message: format!("{}: {message}", client.program),
            code: 1,
        }),
        r => Err(client.unexpected(&r)),
    }
}

/// The extensions that are a lone option: `rvsadm --io-stats`, `--check-status`,
/// `--vrrp-status`.
const STATUS_OPTIONS: [&str; 3] = ["--io-stats", "--check-status", "--vrrp-status"];

fn main() {
    let args = effective_args(std::env::args().collect());
    let program = args[0].clone();
    if args.len() == 2 && STATUS_OPTIONS.contains(&args[1].as_str()) {
        let path = std::env::var_os("RVS_SOCKET")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
        let client = Client { program, path };
        let r = match args[1].as_str() {
            "--io-stats" => io_stats(&client),
            "--vrrp-status" => vrrp_status(&client),
            _ => match client.request(RequestBody::GetCheckStatus) {
                Ok(Response::CheckStatus(lines)) => {
                    Ok(lines.iter().map(|l| format!("{l}\n")).collect())
                }
                Ok(r) => Err(client.unexpected(&r)),
                Err(f) => Err(f),
            },
        };
        match r {
            Ok(out) => print!("{out}"),
            Err(f) => {
                eprintln!("{}", f.message);
                exit(f.code);
            }
        }
        return;
    }
    let cmd = match rvs_ctl::parse::parse_with(&args, &StdResolver) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", e.message);
            exit(e.exit_code);
        }
    };
    let path = std::env::var_os("RVS_SOCKET")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
    let client = Client { program, path };
    match run(&client, cmd) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`rvsadm -Ln | head`) is not worth a panic.
            let _ = stdout.write_all(out.as_bytes());
            let _ = stdout.flush();
        }
        Err(f) => {
            eprintln!("{}", f.message);
            exit(f.code);
        }
    }
}
