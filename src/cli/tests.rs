//! The command line's argument handling: what clap accepts and refuses, how arguments become
//! overrides, and which mistakes are bad input (exit code 2) found before anything runs.

use super::*;

fn parse(args: &[&str]) -> std::result::Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("sessim").chain(args.iter().copied()))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn set_seed_and_replications_become_overrides_in_order() {
    let cli = parse(&[
        "run",
        "s.toml",
        "--set",
        "backends.count=8",
        "--set",
        "balancer.policy=random",
        "--seed",
        "7",
        "--replications",
        "3",
    ])
    .unwrap();
    let Command::Run(args) = cli.command else {
        panic!("not a run: {:?}", cli.command)
    };
    let o = args.scenario.overrides().unwrap();
    let got: Vec<(String, toml::Value)> = o.into_iter().map(|o| (o.path, o.value)).collect();
    assert_eq!(
        got,
        vec![
            ("backends.count".to_string(), toml::Value::Integer(8)),
            // Not valid TOML, so taken as a string: no quotes needed on the command line.
            ("balancer.policy".to_string(), toml::Value::String("random".into())),
            ("seed".to_string(), toml::Value::Integer(7)),
            ("replications".to_string(), toml::Value::Integer(3)),
        ]
    );
}

#[test]
fn a_seed_toml_cannot_hold_is_bad_input() {
    // TOML integers are i64: 2^63 is one more than the largest.
    let cli = parse(&["check", "s.toml", "--seed", "9223372036854775808"]).unwrap();
    let Command::Check(args) = cli.command else {
        panic!("not a check")
    };
    let e = args.scenario.overrides().unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert_eq!(e.to_string(), "--seed 9223372036854775808: at most 9223372036854775807");
}

#[test]
fn a_set_without_equals_is_bad_input_with_an_example() {
    let cli = parse(&["run", "s.toml", "--set", "backends.count"]).unwrap();
    let Command::Run(args) = cli.command else {
        panic!("not a run")
    };
    let e = args.scenario.overrides().unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(
        e.to_string()
            .contains("expected KEY=VALUE, e.g. --set backends.count=8"),
        "{e}"
    );
}

#[test]
fn clap_refuses_zero_jobs_zero_replications_and_conflicting_sections() {
    for args in [
        &["run", "s.toml", "--jobs", "0"][..],
        &["sweep", "s.toml", "-j", "0"],
        &["run", "s.toml", "--replications", "0"],
        &[
            "replay",
            "a.log",
            "--balancer",
            "n.conf",
            "--out",
            "o",
            "--upstream",
            "u",
            "--backend",
            "b",
        ],
        // plan needs a target; replay needs --balancer and --out.
        &["plan", "s.toml"],
        &["replay", "a.log", "--out", "o"],
        &[
            "plan",
            "s.toml",
            "--target",
            "p99_ms<100",
            "--max-load",
            "10..20",
            "--growth",
            "2",
        ],
    ] {
        let e = parse(args).unwrap_err();
        // clap's usage errors exit with 2, as bad input does.
        assert_eq!(e.exit_code(), 2, "{args:?}");
    }
    assert!(parse(&["run", "s.toml", "--jobs", "1"]).is_ok());
}

#[test]
fn jobs_default_to_the_cores_and_keep_what_is_given() {
    assert_eq!(jobs(Some(3)), 3);
    assert!(jobs(None) >= 1);
}

#[test]
fn the_trace_sample_must_be_a_share() {
    for bad in [0.0, -0.5, 1.5, f64::NAN] {
        let e = trace_spec(Some("t.csv".into()), bad).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{bad}");
        assert!(e.to_string().starts_with("--trace-sample "), "{e}");
    }
    let spec = trace_spec(Some("t.csv".into()), 1.0).unwrap().unwrap();
    assert_eq!((spec.path, spec.sample), (PathBuf::from("t.csv"), 1.0));
    assert!(trace_spec(None, 0.5).unwrap().is_none());
}

#[test]
fn an_out_folder_blocked_by_a_file_is_bad_input() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let e = check_out(&file).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("is a file, not a folder"), "{e}");
    let e = check_out(&file.join("sub")).unwrap_err();
    assert!(e.to_string().contains("(in the way of "), "{e}");
    // A folder that does not exist yet is fine: it is created.
    check_out(&d.path().join("new/deeper")).unwrap();
}

#[test]
fn strict_on_a_synthetic_scenario_says_why_it_does_not_apply() {
    let cli = parse(&[
        "run",
        root().join("scenarios/quick-start.toml").to_str().unwrap(),
        "--strict",
    ])
    .unwrap();
    let Command::Run(args) = cli.command else {
        panic!("not a run")
    };
    let e = args.scenario.load_strict(args.trace.strict).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        e.to_string(),
        "--strict applies to replayed logs, and this scenario has no [workload.replay]"
    );
}

#[test]
fn strict_is_applied_before_validation_and_recorded() {
    let file = root().join("scenarios/replay-example.toml");
    let cli = parse(&["run", file.to_str().unwrap(), "--strict"]).unwrap();
    let Command::Run(args) = cli.command else {
        panic!("not a run")
    };
    let sc = args.scenario.load_strict(true).unwrap();
    assert!(sc.strategies().len() > 1);
    for s in sc.strategies() {
        assert!(
            s.system.workload.replay.as_ref().is_some_and(|r| r.strict),
            "{}",
            s.label
        );
    }
    let recorded = sc.source()["workload"]["replay"]["strict"].as_bool();
    assert_eq!(recorded, Some(true));
    // Without --strict the file's own setting (none: false) stands.
    let sc = args.scenario.load_strict(false).unwrap();
    assert!(
        sc.strategies()
            .iter()
            .all(|s| s.system.workload.replay.as_ref().is_some_and(|r| !r.strict))
    );
}

#[test]
fn replay_arguments_become_its_override() {
    let cli = parse(&[
        "replay",
        "a.log",
        "--balancer",
        "h.cfg",
        "--backend",
        "app",
        "--format",
        "haproxy",
        "--out",
        "o",
        "--strict",
    ])
    .unwrap();
    let Command::Replay(args) = cli.command else {
        panic!("not a replay")
    };
    assert_eq!(
        args.replay_override(),
        ReplayOverride {
            log: "a.log".into(),
            balancer: "h.cfg".into(),
            scenario: None,
            format: Some("haproxy".into()),
            upstream: None,
            backend: Some("app".into()),
            strict: true,
        }
    );
}

#[test]
fn a_replay_lasts_one_whole_second_past_its_last_request() {
    // The duration comes from the log (here a span of 299.4 s: floor + 1 = 300 s), and the
    // scenario is validated once, with it.
    let o = ReplayOverride {
        log: root().join("scenarios/data/replay-example.log"),
        balancer: root().join("tests/data/nginx-ip_hash-3111-down.nginx.conf"),
        ..Default::default()
    };
    let calls = std::cell::Cell::new(0);
    let sc = crate::scenario::load::replay::load_replay(&o, &|cfg| {
        calls.set(calls.get() + 1);
        assert!(!cfg.login, "routing only: no sessions");
        Ok(crate::engine::SimTime::from_millis(299_400))
    })
    .unwrap();
    assert_eq!(calls.get(), 1);
    assert_eq!(sc.duration(), crate::engine::SimTime::from_secs(300));
    assert_eq!(sc.source()["duration"].as_str(), Some("300s"));
    assert_eq!(sc.warmup(), crate::engine::SimTime::ZERO);
    // A log that will not open is the span's error, passed on as it is.
    let e =
        crate::scenario::load::replay::load_replay(&o, &|_| Err(Error::bad_input("x.log: cannot open"))).unwrap_err();
    assert_eq!((e.exit_code(), e.to_string()), (2, "x.log: cannot open".to_string()));
}

#[test]
fn plain_and_markdown_tables_keep_every_cell() {
    let mut t = comfy_table::Table::new();
    t.set_header(vec!["strategy", "p99 ms"]);
    t.add_row(vec!["a | b", "12.3 ± 0.4"]);
    t.add_row(vec!["tab\there", "5"]);
    assert_eq!(super::plain(&t), "strategy\tp99 ms\na | b\t12.3 ± 0.4\ntab here\t5");
    assert_eq!(
        super::export::markdown(&t),
        "| strategy | p99 ms |\n| :--- | ---: |\n| a \\| b | 12.3 ± 0.4 |\n| tab\there | 5 |\n"
    );
}
