//! The `microclass-hub` command: the reference district hub, a program of its
//! own (the kiosk binary carries none of it).

mod cli;

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "microclass-hub", version, about = "District hub of the community micro-classrooms: keys, documents, ingest, reports")]
struct Args {
    /// Log filter, e.g. `info` or `microclass_hub=debug`.
    #[arg(long, global = true, env = "MICROCLASS_HUB_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    cmd: cli::HubCmd,
}

fn main() {
    let args = Args::parse();
    let filter = EnvFilter::try_new(&args.log).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let code = match cli::run(args.cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
