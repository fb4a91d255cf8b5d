//! The command line's help: every command and argument says what it is for.

use super::*;

/// Every command and every argument says what it is for, and the flags that
/// apply only to some commands are shown only there.
#[test]
fn every_command_and_argument_has_help_and_flags_show_where_they_apply() {
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            let id = a.get_id().as_str();
            if a.is_hide_set() || id == "help" || id == "version" {
                continue;
            }
            if a.get_help().is_none() && a.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        // `help` is clap's own, generated.
        for s in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let p = format!("{path} {}", s.get_name());
            if s.get_about().is_none() {
                missing.push(format!("{p} (command)"));
            }
            walk(s, &p, missing);
        }
    }
    let mut cmd = <Cli as clap::CommandFactory>::command();
    cmd.build();
    let mut missing = Vec::new();
    walk(&cmd, "ccsm", &mut missing);
    assert!(missing.is_empty(), "no help text: {missing:#?}");

    let find = |path: &[&str]| {
        let mut c = &cmd;
        for p in path {
            c = c.find_subcommand(p).unwrap_or_else(|| panic!("{p}"));
        }
        c.get_arguments()
            .filter(|a| !a.is_hide_set())
            .map(|a| a.get_id().as_str().to_owned())
            .collect::<Vec<_>>()
    };
    let run = find(&["run"]);
    assert!(
        run.contains(&"claude".into()) && !run.contains(&"direct".into()),
        "{run:?}"
    );
    let list = find(&["sessions", "list"]);
    assert!(list.contains(&"direct".into()) && list.contains(&"json".into()));
    assert!(!list.contains(&"claude".into()), "{list:?}");
    let chat = find(&["chat"]);
    assert!(
        !chat.contains(&"json".into()) && !chat.contains(&"direct".into()),
        "{chat:?}"
    );
}
