//! Man pages and shell completions generated from a binary's own clap definition, so what
//! packages ship can never drift from what `--help` says. Each binary calls [`intercept`] first
//! thing in `main`: `NAME --generate-docs DIR` writes `DIR/man/*.1` (one page for the binary and
//! one per subcommand, `NAME-SUB.1`) and `DIR/completions/{NAME.bash,_NAME,NAME.fish}`, then exits.
//! It is looked for before clap parses so it stays out of `--help` and out of the binaries'
//! own argument structs (which other parts own).

use std::path::{Path, PathBuf};

use clap::Command;
use clap_complete::Shell;

/// The argument that asks for the documents instead of a normal run.
pub const FLAG: &str = "--generate-docs";

/// If the process was started as `NAME --generate-docs DIR`, writes the documents for the
/// command `cmd()` builds and exits (status 0, or 1 with the reason on stderr). Otherwise returns.
pub fn intercept(cmd: impl FnOnce() -> Command) {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(std::ffi::OsStr::new(FLAG)) {
        return;
    }
    let cmd = cmd();
    let name = cmd.get_name().to_string();
    let Some(dir) = args.next() else {
        eprintln!("{name}: usage: {name} {FLAG} DIR");
        std::process::exit(2);
    };
    match generate(cmd, Path::new(&dir)) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!(
                "{name}: writing documents to {}: {e}",
                dir.to_string_lossy()
            );
            std::process::exit(1);
        }
    }
}

/// Writes the man pages and completions of `cmd` under `dir`; returns the files written.
pub fn generate(cmd: Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut cmd = cmd;
    // Subcommand pages are named NAME-SUB and list their parents' context: build resolves that.
    cmd.build();
    let name = cmd.get_name().to_string();
    let man = dir.join("man");
    let completions = dir.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let mut written = Vec::new();
    write_pages(&cmd, &name, &man, &mut written)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = completions.join(match shell {
            Shell::Bash => format!("{name}.bash"),
            Shell::Zsh => format!("_{name}"),
            _ => format!("{name}.fish"),
        });
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), &name, &mut out);
        std::fs::write(&path, out)?;
        written.push(path);
    }
    Ok(written)
}

fn write_pages(
    cmd: &Command,
    page: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    if cmd.is_hide_set() {
        return Ok(());
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .title(page)
        .render(&mut out)?;
    let path = dir.join(format!("{page}.1"));
    std::fs::write(&path, out)?;
    written.push(path);
    for sub in cmd.get_subcommands() {
        // clap's own `help` subcommand needs no page of its own.
        if sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, &format!("{page}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Command {
        Command::new("demo")
            .version("1.2.3")
            .about("a demo")
            .arg(clap::Arg::new("port").long("port").help("the port"))
            .subcommand(Command::new("make").about("make one"))
            .subcommand(Command::new("secret").hide(true))
    }

    #[test]
    fn writes_a_page_per_visible_command_and_three_completions() {
        let dir = tempfile::tempdir().unwrap();
        let written = generate(sample(), dir.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "man/demo.1",
                "man/demo-make.1",
                "completions/demo.bash",
                "completions/_demo",
                "completions/demo.fish"
            ]
        );
        let page = std::fs::read_to_string(dir.path().join("man/demo.1")).unwrap();
        assert!(page.contains(".TH demo 1"), "{page}");
        assert!(page.contains("\\-\\-port"), "{page}");
        assert!(page.contains("1.2.3"), "{page}");
        let bash = std::fs::read_to_string(dir.path().join("completions/demo.bash")).unwrap();
        assert!(bash.contains("--port"), "{bash}");
    }
}
