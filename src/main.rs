//! The ecs-roll binary: parse, run, exit with the documented code.

use clap::Parser;

fn main() {
    let cli = ecs_roll::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(ecs_roll::error::exit::FAILURE);
        }
    };
    let code = runtime.block_on(ecs_roll::commands::run(cli));
    std::process::exit(code);
}
