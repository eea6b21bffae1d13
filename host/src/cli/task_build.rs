//! `host task build`: a Python or JavaScript Lambda-style handler to a task component.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::taskbuild::{self, BuildRequest, Language};

#[derive(Debug, Args)]
pub struct TaskBuildArgs {
    /// The handler: a .py, .js or .mjs file, or a directory of sources (with requirements.txt
    /// or package.json for pure-Python or pure-JavaScript dependencies).
    source: PathBuf,
    /// Where to write the component. Default: the source's name with .wasm, beside it.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The handler as MODULE.FUNCTION (Lambda's notation). Default: `handler` in the given file;
    /// for a directory handler.handler or lambda_function.lambda_handler (Python),
    /// index.handler or handler.handler (JavaScript).
    #[arg(long)]
    handler: Option<String>,
    /// The language. Default: from the file's extension or the directory's contents.
    #[arg(long, value_enum, ignore_case = true)]
    language: Option<Language>,
}

pub fn build(args: TaskBuildArgs) -> anyhow::Result<ExitCode> {
    let request = BuildRequest {
        source: args.source,
        output: args.output,
        handler: args.handler,
        language: args.language,
    };
    let report = taskbuild::build(&request, &mut |note| eprintln!("host: {note}"))?;
    println!(
        "{}: {} task, handler {}, {:.1} MB, built in {:.1}s",
        report.output.display(),
        report.language,
        report.handler,
        report.bytes as f64 / 1e6,
        report.took.as_secs_f64()
    );
    if report.modules.len() > 1 {
        println!(
            "  modules a task's _HANDLER may name: {}",
            report.modules.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
