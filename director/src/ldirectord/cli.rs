//! The `ldirectord` command line, as ldirectord 4.12 reads it:
//! `ldirectord [-d|--debug] [--] [configfile] start|stop|restart|try-restart|reload|force-reload|status`
//! and `ldirectord [-h|-?|--help|-v|--version]`.

use std::fmt;
use std::path::{Path, PathBuf};

/// Exit status of a usage error (ldirectord's `pod2usage(-exitval => -1)`).
pub const EXIT_USAGE: i32 = 255;
/// Exit status of an initialisation error (`Config file … not found`, …).
pub const EXIT_INIT_ERROR: i32 = 1;
/// Exit status of a configuration error.
pub const EXIT_CONFIG_ERROR: i32 = 2;
/// Exit status of `status` when no daemon runs and no pid file is left.
pub const EXIT_STATUS_STOPPED: i32 = 3;
/// Exit status of `status` with a stale pid file.
pub const EXIT_STATUS_STALE: i32 = 1;
/// Where ldirectord keeps its pid files (`/var/run/ldirectord.NAME.pid`).
pub const RUN_PID_PREFIX: &str = "/var/run/ldirectord";
/// The configuration used when none is named.
pub const DEFAULT_CONFIG: &str = "ldirectord.cf";

/// ldirectord's version text (`-v`).
pub const VERSION_TEXT: &str = "Linux Director v1.186-ha\n\
1999-2006 Jacob Rief, Horms and others\n\
<http://www.vergenet.net/linux/ldirectord/>\n\
\n\
ldirectord comes with ABSOLUTELY NO WARRANTY.\n\
This is free software, and you are welcome to redistribute it\n\
under certain conditions. See the GNU General Public Licence for details.\n";

/// The usage text printed on standard output for a usage error.
pub const USAGE_TEXT: &str = "Usage:
    ldirectord [-d|--debug] [--] [configfile] start | stop | restart |
    try-restart | reload | force-reload | status

    ldirectord [-h|-?|--help|-v|--version]

Options:
    configuration: This is the name for the configuration as specified in
    the file /etc/ha.d/conf/configuration

    -d|--debug Don't start as daemon and log verbosely.

    -h|--help Print user manual and exit.

    -v|--version Print version and exit.

    start the daemon for the specified configuration.

    stop the daemon for the specified configuration. This is the same as
    sending a TERM signal to the running daemon.

    restart the daemon for the specified configuration. The same as stopping
    and starting.

    reload the configuration file. This is only useful for modifications
    inside a virtual server entry. It will have no effect on adding or
    removing a virtual server block. This is the same as sending a HUP
    signal to the running daemon.

    status of the running daemon for the specified configuration.

";

/// The action word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `start`.
    Start,
    /// `stop`: TERM to the running daemon.
    Stop,
    /// `restart`: stop (wait for the pid file to go), then start.
    Restart,
    /// `try-restart`: restart only when running.
    TryRestart,
    /// `reload`: HUP to the running daemon.
    Reload,
    /// `force-reload`: the same as reload.
    ForceReload,
    /// `status`.
    Status,
}

impl Action {
    /// The action of a word.
    pub fn from_word(w: &str) -> Option<Action> {
        Some(match w {
            "start" => Action::Start,
            "stop" => Action::Stop,
            "restart" => Action::Restart,
            "try-restart" => Action::TryRestart,
            "reload" => Action::Reload,
            "force-reload" => Action::ForceReload,
            "status" => Action::Status,
            _ => return None,
        })
    }

    /// Its word.
    pub fn word(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::TryRestart => "try-restart",
            Action::Reload => "reload",
            Action::ForceReload => "force-reload",
            Action::Status => "status",
        }
    }
}

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// `-h`, `-?`, `--help`: show the manual (ldirectord runs `perldoc`).
    Help,
    /// `-v`, `--version`: print [`VERSION_TEXT`], exit 0.
    Version,
    /// A usage error: print `message` (if any) on standard error, then
    /// [`USAGE_TEXT`] on standard output, exit [`EXIT_USAGE`].
    Usage {
        /// Getopt's complaint, e.g. `Unknown option: x`.
        message: Option<String>,
    },
    /// Act on a configuration.
    Run(Run),
}

/// An action on a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// `-d`: stay in the foreground and log verbosely to standard error.
    pub debug: bool,
    /// The configuration as named (default `ldirectord.cf`).
    pub config: String,
    /// The configuration's name: the last path component of `config`
    /// (`ldirectord` when none was named); it names the pid file.
    pub name: String,
    /// The action.
    pub action: Action,
}

impl Run {
    /// The pid file: `/var/run/ldirectord.NAME.pid`.
    pub fn pid_file(&self) -> PathBuf {
        PathBuf::from(format!("{RUN_PID_PREFIX}.{}.pid", self.name))
    }

    /// Finds the configuration file as ldirectord does: `/etc/ha.d/NAME`, then
    /// `/etc/ha.d/conf/NAME`, then the name itself (`is_file` says whether a
    /// path is a regular file). The error is ldirectord's message, exit
    /// [`EXIT_INIT_ERROR`].
    pub fn config_path(&self, is_file: impl Fn(&Path) -> bool) -> Result<PathBuf, String> {
        // ldirectord glues the strings, so an absolute name is looked up
        // under /etc/ha.d too ("/etc/ha.d//x.cf").
        for dir in ["/etc/ha.d/", "/etc/ha.d/conf/"] {
            let p = PathBuf::from(format!("{dir}{}", self.config));
            if is_file(&p) {
                return Ok(p);
            }
        }
        let p = PathBuf::from(&self.config);
        if is_file(&p) {
            Ok(p)
        } else {
            Err(format!("Config file {} not found", self.config))
        }
    }

    /// What ldirectord does for the action once it knows whether a daemon
    /// runs for this configuration (`running`: the pid in the pid file, when
    /// that process is an ldirectord) and whether a pid file exists.
    pub fn step(&self, running: Option<u32>, config_path: &Path, pid_file_exists: bool) -> Step {
        let conf = config_path.display();
        match (running, self.action) {
            (Some(_), Action::Start) => Step::Exit {
                code: 0,
                stdout: None,
                stderr: None,
            },
            (Some(pid), Action::Stop) => Step::Signal {
                pid,
                signal: libc::SIGTERM,
                then_start: false,
            },
            (Some(pid), Action::Restart | Action::TryRestart) => Step::Signal {
                pid,
                signal: libc::SIGTERM,
                then_start: true,
            },
            (Some(pid), Action::Reload | Action::ForceReload) => Step::Signal {
                pid,
                signal: libc::SIGHUP,
                then_start: false,
            },
            (Some(pid), Action::Status) => Step::Exit {
                code: 0,
                stdout: None,
                stderr: Some(format!(
                    "ldirectord for {conf} is running with pid: {pid}\n"
                )),
            },
            (None, Action::Start | Action::Restart) => Step::Start,
            (None, Action::Stop | Action::TryRestart) => Step::Exit {
                code: 0,
                stdout: None,
                stderr: None,
            },
            (None, Action::Status) => Step::Exit {
                code: if pid_file_exists {
                    EXIT_STATUS_STALE
                } else {
                    EXIT_STATUS_STOPPED
                },
                stdout: Some(format!("ldirectord is stopped for {conf}\n")),
                stderr: pid_file_exists.then(|| {
                    format!(
                        "ldirectord stale pid file {} for {conf}\n",
                        self.pid_file().display()
                    )
                }),
            },
            (None, Action::Reload | Action::ForceReload) => Step::Exit {
                code: 1,
                stdout: None,
                stderr: None,
            },
        }
    }
}

/// What the pid file of a configuration says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidFile {
    /// No pid file (or an unreadable one).
    Absent,
    /// A pid file whose process is not an ldirectord (or is gone): its
    /// first line.
    Stale(String),
    /// A running ldirectord with this pid.
    Running(u32),
}

impl PidFile {
    /// Reads a pid file as ldirectord does: the first line is the pid, and
    /// the process counts as running when `/proc/PID/cmdline` mentions
    /// `ldirectord` (`read` reads a file, e.g. `std::fs::read`).
    pub fn probe(path: &Path, read: impl Fn(&Path) -> Option<Vec<u8>>) -> PidFile {
        let Some(text) = read(path) else {
            return PidFile::Absent;
        };
        let text = String::from_utf8_lossy(&text);
        let first = text.lines().next().unwrap_or("").to_string();
        let cmdline = read(&PathBuf::from(format!("/proc/{first}/cmdline")));
        match (first.parse::<u32>(), cmdline) {
            (Ok(pid), Some(c)) if c.windows(10).any(|w| w == b"ldirectord") => {
                PidFile::Running(pid)
            }
            _ => PidFile::Stale(first),
        }
    }

    /// The running daemon's pid.
    pub fn running(&self) -> Option<u32> {
        match self {
            PidFile::Running(pid) => Some(*pid),
            _ => None,
        }
    }

    /// Whether a pid file exists.
    pub fn exists(&self) -> bool {
        !matches!(self, PidFile::Absent)
    }
}

/// The next thing the entry point does for a [`Run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Print and exit.
    Exit {
        /// Exit status.
        code: i32,
        /// Text for standard output.
        stdout: Option<String>,
        /// Text for standard error.
        stderr: Option<String>,
    },
    /// Send a signal to the running daemon; then start (after its pid file is
    /// gone) or exit 0.
    Signal {
        /// The daemon.
        pid: u32,
        /// SIGTERM or SIGHUP.
        signal: i32,
        /// Whether to start afterwards (restart, try-restart).
        then_start: bool,
    },
    /// Start the daemon.
    Start,
}

impl fmt::Display for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invocation::Help => f.write_str("help"),
            Invocation::Version => f.write_str("version"),
            Invocation::Usage { message } => {
                write!(f, "usage ({})", message.as_deref().unwrap_or("-"))
            }
            Invocation::Run(r) => write!(
                f,
                "{} {} (name {}, debug {})",
                r.action.word(),
                r.config,
                r.name,
                r.debug
            ),
        }
    }
}

/// Reads the arguments after the program name, as ldirectord's Getopt::Long
/// setup does (bundled short options, no abbreviations, options only before
/// the first other argument, `--` ends them). Extra words after the action
/// are ignored, as ldirectord ignores them.
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Invocation {
    let (mut debug, mut help, mut version) = (false, false, false);
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_ref();
        if a == "--" {
            i += 1;
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            match long {
                "debug" => debug = true,
                "help" => help = true,
                "version" => version = true,
                _ => {
                    return Invocation::Usage {
                        message: Some(format!("Unknown option: {long}")),
                    }
                }
            }
        } else if a.len() > 1 && a.starts_with('-') {
            for c in a[1..].chars() {
                match c {
                    'd' => debug = true,
                    'h' | '?' => help = true,
                    'v' => version = true,
                    _ => {
                        return Invocation::Usage {
                            message: Some(format!("Unknown option: {c}")),
                        }
                    }
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if help {
        return Invocation::Help;
    }
    if version {
        return Invocation::Version;
    }
    let rest = &args[i..];
    let (config, name, word) = match rest {
        [] => return Invocation::Usage { message: None },
        [w] => (
            DEFAULT_CONFIG.to_string(),
            "ldirectord".to_string(),
            w.as_ref(),
        ),
        [c, w, ..] => {
            let c = c.as_ref();
            let name = c.rsplit('/').next().unwrap_or("").to_string();
            (c.to_string(), name, w.as_ref())
        }
    };
    match Action::from_word(word) {
        Some(action) => Invocation::Run(Run {
            debug,
            config,
            name,
            action,
        }),
        None => Invocation::Usage { message: None },
    }
}
