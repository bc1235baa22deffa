//! The `presign` binary: `serve` (the default) runs the upload server;
//! `url`, `post` and `explain` sign and inspect presigned URLs and POST
//! forms from scripts.

#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("url") => cli::url(&args[1..]),
        Some("post") => cli::post(&args[1..]),
        Some("explain") => cli::explain(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Some("serve") => cli::serve(&args[1..]),
        None => cli::serve(&[]),
        Some(other) => {
            eprintln!("presign: unknown command '{other}' (try 'presign --help')");
            ExitCode::from(2)
        }
    }
}
