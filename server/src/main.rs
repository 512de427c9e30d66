//! The `nameplate` binary: command line, logging, and the subcommands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use nameplate::config::{Config, DEFAULT_TOML, LogFormat};
use zones::Name;

/// mimalloc: the server allocates from many threads at once (request
/// handlers, sled's I/O pool), where glibc's arenas contend.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// nameplate: authoritative DNS, ACME CA and self-service API for a platform domain.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (with the embedded default configuration unless told otherwise).
    Serve(ServeArgs),
    /// Import or export zones while no server holds the data directory.
    #[command(subcommand)]
    Zone(ZoneCommand),
    /// Administration that works offline on the data directory.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print the embedded default configuration (the configuration reference).
    Config,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Mint an API token while no server holds the data directory (for
    /// bootstrap and recovery) and print it on stdout; it is shown only once.
    Create {
        /// The team the token acts for (it must exist, except `platform`).
        #[arg(long)]
        team: String,
        /// admin (team platform only), owner, member or ci.
        #[arg(long)]
        role: api::Role,
        /// What the token is for.
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args, Debug)]
struct Common {
    /// A TOML file laid over the embedded default.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The data directory (overrides `data_dir`).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// A UDP+TCP listen address; repeat for several (overrides `dns.listen`).
    #[arg(long = "dns-listen", value_name = "ADDR:PORT")]
    dns_listen: Vec<SocketAddr>,
    /// The HTTPS listen address (overrides `https.listen`).
    #[arg(long = "https-listen", value_name = "ADDR:PORT")]
    https_listen: Option<SocketAddr>,
    /// Also serve plain HTTP here, e.g. behind a TLS proxy (overrides `http.listen`).
    #[arg(long = "http-listen", value_name = "ADDR:PORT")]
    http_listen: Option<SocketAddr>,
    /// The base URL the CA and ACME name in their URLs (overrides `ca.base_url`).
    #[arg(long = "ca-base-url", value_name = "URL")]
    ca_base_url: Option<String>,
    /// UDP worker threads per address (overrides `dns.workers`).
    #[arg(long)]
    workers: Option<usize>,
    /// The platform zone created on first start (overrides `platform.zone`).
    #[arg(long)]
    zone: Option<String>,
    /// Log format (overrides `log.format`).
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
}

#[derive(Subcommand, Debug)]
enum ZoneCommand {
    /// Import an RFC 1035 master file, replacing the zone of the same name.
    Import {
        /// The master file; its $ORIGIN (or --origin) names the zone.
        file: PathBuf,
        /// The zone's origin when the file has no $ORIGIN.
        #[arg(long)]
        origin: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Write a zone as an RFC 1035 master file on standard output.
    Export {
        /// The zone's apex.
        name: String,
        #[command(flatten)]
        common: Common,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("nameplate: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let config = serve_config(&args)?;
            init_logging(&config);
            nameplate::serve::run(&config)
        }
        Command::Zone(ZoneCommand::Import { file, origin, common }) => {
            import(&load(&common)?, &file, origin.as_deref())
        }
        Command::Zone(ZoneCommand::Export { name, common }) => export(&load(&common)?, &name),
        Command::Admin(AdminCommand::Token(TokenCommand::Create { team, role, description, common })) => {
            create_token(&load(&common)?, &team, role, &description)
        }
        Command::Config => {
            print!("{DEFAULT_TOML}");
            Ok(())
        }
    }
}

fn load(common: &Common) -> Result<Config> {
    let mut config = Config::load(common.config.as_deref())?;
    if let Some(dir) = &common.data_dir {
        config.data_dir.clone_from(dir);
    }
    Ok(config)
}

fn serve_config(args: &ServeArgs) -> Result<Config> {
    let mut config = load(&args.common)?;
    if !args.dns_listen.is_empty() {
        config.dns.listen.clone_from(&args.dns_listen);
    }
    if let Some(addr) = args.https_listen {
        config.https.listen = addr;
    }
    if let Some(addr) = args.http_listen {
        config.http.listen = Some(addr);
    }
    if let Some(url) = &args.ca_base_url {
        config.ca.base_url.clone_from(url);
    }
    if let Some(workers) = args.workers {
        config.dns.workers = workers;
    }
    if let Some(zone) = &args.zone {
        config.platform.zone.clone_from(zone);
    }
    if let Some(format) = args.log_format {
        config.log.format = format;
    }
    Ok(config)
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn import(config: &Config, file: &PathBuf, origin: Option<&str>) -> Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let origin = origin.map(Name::from_ascii).transpose().context("--origin is not a domain name")?;
    let zone = zones::zonefile::parse(&text, origin.as_ref()).with_context(|| format!("parsing {}", file.display()))?;
    let (apex, records) = (zone.apex().clone(), zone.record_count());
    let store = nameplate::serve::open_store(config)?;
    let mut tx = zones::Transaction::new();
    tx.put_zone(zone, "zone import", &file.display().to_string());
    let audit = api::Audit::system("cli", api::PLATFORM_TEAM, "zone.import", apex.to_ascii());
    let entries = audit.commit(&store, tx, SystemTime::now())?;
    let entry = entries.last().context("the import changed no zone")?;
    eprintln!("imported {apex} ({records} records, serial {})", entry.to_serial);
    if let Some(catalog) = nameplate::serve::catalog_zone(config)? {
        api::sync_catalog_zone(&store, &catalog, SystemTime::now()).context("synchronizing the catalog zone")?;
    }
    Ok(())
}

fn export(config: &Config, name: &str) -> Result<()> {
    let apex = Name::from_ascii(name).context("not a domain name")?.to_lowercase();
    let mut apex = apex;
    apex.set_fqdn(true);
    let store = nameplate::serve::open_store(config)?;
    let snapshot = store.snapshot();
    let zone = snapshot.get(&apex).with_context(|| format!("no zone {apex} in {}", config.data_dir.display()))?;
    print!("{}", zones::zonefile::write(zone));
    Ok(())
}

fn create_token(config: &Config, team: &str, role: api::Role, description: &str) -> Result<()> {
    let store = nameplate::serve::open_store(config)
        .context("the data directory must not be held by a running server (use the API there)")?;
    let now = SystemTime::now();
    if team == api::PLATFORM_TEAM {
        // Recovery or bootstrap on a data directory never served yet.
        api::ensure_platform_team(&store, now)?;
    }
    let issued = api::issue_token(&store, now, team, role, description)?;
    eprintln!("created token {} for team {team} ({role})", issued.id);
    println!("{}", issued.token);
    Ok(())
}
