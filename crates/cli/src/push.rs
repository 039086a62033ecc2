//! `pushdetect push file-download | ioc | mail`: one push from the command line, checked
//! offline first, then sent with papi_client's session and retry behaviour.

use crate::client_args::{
    read_input, ClientArgs, FileDownloadSpec, IocSpec, MailSpec, MethodFlags,
};
use clap::{Args, Subcommand};
use pushdetect_client::PushDetection;
use pushdetect_model::{EventKind, FormParams};
use serde_json::json;

/// Push one detection.
#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    kind: PushKind,
}

#[derive(Debug, Subcommand)]
enum PushKind {
    /// A downloaded file and its analysis task (push_file_download).
    FileDownload(MethodFlags<FileDownloadSpec>),
    /// An IOC check result (push_result).
    Ioc(MethodFlags<IocSpec>),
    /// A captured mail (push_mail); the mail object from --mail-json.
    Mail {
        /// The mail object (JSON, as the spec's mail_json_str), or - for standard input.
        #[arg(long, value_name = "FILE")]
        mail_json: String,
        #[command(flatten)]
        flags: MethodFlags<MailSpec>,
    },
}

impl PushArgs {
    /// Whether --verbose was given.
    pub fn verbose(&self) -> bool {
        self.client.verbose
    }
}

/// Runs the command.
pub async fn run(args: PushArgs) -> anyhow::Result<()> {
    let config = args.client.load()?;
    let (kind, params): (EventKind, FormParams) = match args.kind {
        PushKind::FileDownload(f) => (EventKind::FileDownload, f.with_defaults("push", &config)),
        PushKind::Ioc(f) => (EventKind::Ioc, f.with_defaults("push", &config)),
        PushKind::Mail { mail_json, flags } => {
            let mut params = flags.with_defaults("push", &config);
            params.push("mail_json_str", read_input(&mail_json)?.trim().to_owned());
            (EventKind::Mail, params)
        }
    };
    // Checked offline first: nothing is sent when a parameter is wrong.
    PushDetection::check(kind, &params)?;
    let papi = args.client.papi(&config)?;
    let answer = PushDetection::new(&papi).push(kind, &params).await?;
    if args.client.json {
        println!("{}", json!({"pushed": kind.as_str(), "answer": answer}));
    } else {
        println!(
            "{} event pushed: {}",
            kind.as_str(),
            answer.as_str().unwrap_or("OK")
        );
    }
    Ok(())
}
