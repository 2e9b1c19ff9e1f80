use super::*;

fn err_code(payload: &[u8]) -> (Value, &'static str) {
    let (id, e) = parse_request(payload).unwrap_err();
    (id, e.code.as_str())
}

#[test]
fn set_limits_tells_absent_from_null() {
    let (_, cmd) = parse_request(
        br#"{"id":1,"cmd":"set_limits","info_hash":"ab","down_limit":null,"up_limit":5}"#,
    )
    .unwrap();
    assert_eq!(
        cmd,
        Command::SetLimits {
            info_hash: "ab".into(),
            down_limit: Some(None),
            up_limit: Some(Some(5)),
        }
    );
    let (_, cmd) = parse_request(br#"{"id":1,"cmd":"set_limits","info_hash":"ab"}"#).unwrap();
    assert_eq!(
        cmd,
        Command::SetLimits {
            info_hash: "ab".into(),
            down_limit: None,
            up_limit: None,
        }
    );
    let (_, cmd) =
        parse_request(br#"{"id":1,"cmd":"add","url":"http://x/t","down_limit":1000}"#).unwrap();
    assert!(matches!(cmd, Command::Add(a) if a.down_limit == Some(1000) && a.up_limit.is_none()));
    let (_, e) = parse_request(br#"{"id":1,"cmd":"set_limits","info_hash":"ab","up_limit":-1}"#)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::BadRequest);
}

#[test]
fn file_lists_are_all_or_indices() {
    let (_, cmd) = parse_request(
        br#"{"id":1,"cmd":"priority","info_hash":"ab","files":[0,2],"priority":"high"}"#,
    )
    .unwrap();
    assert_eq!(
        cmd,
        Command::Priority {
            info_hash: "ab".into(),
            files: FileList::Only(vec![0, 2]),
            priority: engine::FilePriority::High,
        }
    );
    let (_, cmd) =
        parse_request(br#"{"id":1,"cmd":"select","info_hash":"ab","files":"all"}"#).unwrap();
    assert!(matches!(
        cmd,
        Command::Select {
            files: FileList::All,
            save_dir: None,
            ..
        }
    ));
    for bad in [
        &br#"{"id":1,"cmd":"select","info_hash":"ab","files":"some"}"#[..],
        br#"{"id":1,"cmd":"select","info_hash":"ab","files":[-1]}"#,
        br#"{"id":1,"cmd":"priority","info_hash":"ab","files":[1],"priority":"urgent"}"#,
    ] {
        assert_eq!(
            parse_request(bad).unwrap_err().1.code,
            ErrorCode::BadRequest
        );
    }
    let (_, cmd) =
        parse_request(br#"{"id":1,"cmd":"add","url":"http://x/t","files":[1]}"#).unwrap();
    assert!(matches!(cmd, Command::Add(a) if a.files == Some(vec![1])));
}

#[test]
fn parses_every_command_shape() {
    let (id, cmd) = parse_request(br#"{"id": 7, "cmd": "pause", "info_hash": "ab"}"#).unwrap();
    assert_eq!(id, json!(7));
    assert_eq!(
        cmd,
        Command::Pause {
            info_hash: "ab".into()
        }
    );
    let (_, cmd) = parse_request(br#"{"id": "x", "cmd": "subscribe"}"#).unwrap();
    assert_eq!(cmd, Command::Subscribe);
    let (_, cmd) =
        parse_request(br#"{"id":1,"cmd":"add","magnet":"magnet:?xt=x","paused":true}"#).unwrap();
    match cmd {
        Command::Add(a) => {
            assert_eq!(a.magnet.as_deref(), Some("magnet:?xt=x"));
            assert!(a.paused);
        }
        other => panic!("{other:?}"),
    }
    let (_, cmd) =
        parse_request(br#"{"id":1,"cmd":"remove","info_hash":"ab","delete_files":true}"#).unwrap();
    assert_eq!(
        cmd,
        Command::Remove {
            info_hash: "ab".into(),
            delete_files: true
        }
    );
    let (_, cmd) = parse_request(br#"{"id":1,"cmd":"hello","client":"extension"}"#).unwrap();
    assert_eq!(
        cmd,
        Command::Hello {
            client: Some("extension".into())
        }
    );
    // A goal left out stays (None); null follows the settings.
    let (_, cmd) = parse_request(
        br#"{"id":1,"cmd":"set_goals","info_hash":"ab","seed_ratio":null,"seed_time_secs":"unlimited"}"#,
    )
    .unwrap();
    assert_eq!(
        cmd,
        Command::SetGoals {
            info_hash: "ab".into(),
            seed_ratio: Some(protocol::Goal::Follow),
            seed_time_secs: Some(protocol::Goal::Unlimited),
        }
    );
    let (_, cmd) =
        parse_request(br#"{"id":1,"cmd":"set_goals","info_hash":"ab","seed_ratio":2}"#).unwrap();
    assert_eq!(
        cmd,
        Command::SetGoals {
            info_hash: "ab".into(),
            seed_ratio: Some(protocol::Goal::Value(2.0)),
            seed_time_secs: None,
        }
    );
}

#[test]
fn bad_requests_keep_their_id_and_name_the_problem() {
    assert_eq!(err_code(b"{not json"), (Value::Null, "bad_json"));
    assert_eq!(err_code(&[0xff, 0xfe]), (Value::Null, "bad_json"));
    assert_eq!(err_code(b"[1,2]"), (Value::Null, "bad_request"));
    assert_eq!(err_code(br#"{"id":3}"#), (json!(3), "bad_request"));
    assert_eq!(err_code(br#"{"id":3,"cmd":5}"#), (json!(3), "bad_request"));
    assert_eq!(
        err_code(br#"{"id":4,"cmd":"fly"}"#),
        (json!(4), "unknown_command")
    );
    assert_eq!(
        err_code(br#"{"id":5,"cmd":"pause","info_hash":12}"#),
        (json!(5), "bad_request")
    );
    assert_eq!(
        err_code(br#"{"id":6,"cmd":"pause"}"#),
        (json!(6), "bad_request")
    );
    assert_eq!(
        err_code(br#"{"id":7,"cmd":"add","paused":"yes"}"#),
        (json!(7), "bad_request")
    );
    assert_eq!(
        err_code(br#"{"id":8,"cmd":"add","torrent":"typo"}"#),
        (json!(8), "bad_request")
    );
    let (_, e) = parse_request(br#"{"id":5,"cmd":"pause","info_hash":12}"#).unwrap_err();
    assert!(e.message.contains("pause"), "{}", e.message);
}

#[test]
fn replies_have_the_documented_shape() {
    let ok = ok_reply(&json!(1), json!({"a": 1}));
    assert_eq!(ok, json!({"id": 1, "ok": true, "result": {"a": 1}}));
    let err = error_reply(&json!(2), &ApiError::new(ErrorCode::UnknownTorrent, "no"));
    assert_eq!(
        err,
        json!({"id": 2, "ok": false, "error": {"code": "unknown_torrent", "message": "no"}})
    );
}

fn a_status() -> TorrentStatus {
    TorrentStatus {
        info_hash: protocol::InfoHash([0xab; 20]),
        name: "movie.mpeg".into(),
        state: TorrentState::Downloading,
        progress: 0.42,
        total_bytes: 123,
        have_bytes: 52,
        downloaded: 60,
        uploaded: 0,
        down_rate: 1_048_576,
        up_rate: 0,
        peers: 3,
        seeds: 1,
        eta_secs: Some(70),
        error: None,
        save_path: "/home/u/Downloads/movie.mpeg".into(),
        seeding_secs: 0,
        web_seeds: Vec::new(),
        moving: None,
    }
}

/// The bytes the extension has always read (they were the engine type's serde output).
#[test]
fn status_json_keeps_the_wire_shape_byte_for_byte() {
    let json = serde_json::to_string(&status_json(&a_status())).unwrap();
    assert_eq!(
        json,
        concat!(
            r#"{"down_rate":1048576,"downloaded":60,"error":null,"eta_secs":70,"#,
            r#""have_bytes":52,"info_hash":"abababababababababababababababababababab","#,
            r#""name":"movie.mpeg","peers":3,"progress":0.42,"#,
            r#""save_path":"/home/u/Downloads/movie.mpeg","seeding_secs":0,"seeds":1,"#,
            r#""state":"downloading","total_bytes":123,"up_rate":0,"uploaded":0}"#
        )
    );
    let mut s = a_status();
    s.state = TorrentState::AwaitingSelection;
    s.eta_secs = None;
    s.error = Some("disk full".into());
    s.web_seeds = vec![
        WebSeedStatus {
            url: "https://mirror.example/f/".into(),
            state: WebSeedState::Fetching,
            down_rate: 5,
            downloaded: 7,
            error: None,
            retry_in_secs: None,
        },
        WebSeedStatus {
            url: "http://old.example/f/".into(),
            state: WebSeedState::BackingOff,
            down_rate: 0,
            downloaded: 0,
            error: Some("HTTP status 404".into()),
            retry_in_secs: Some(4),
        },
    ];
    let v = status_json(&s);
    assert_eq!(v["state"], "awaiting_selection");
    assert_eq!(v["eta_secs"], Value::Null);
    assert_eq!(v["error"], "disk full");
    assert_eq!(
        serde_json::to_string(&v["web_seeds"]).unwrap(),
        concat!(
            r#"[{"down_rate":5,"downloaded":7,"error":null,"state":"fetching","#,
            r#""url":"https://mirror.example/f/"},"#,
            r#"{"down_rate":0,"downloaded":0,"error":"HTTP status 404","retry_in_secs":4,"#,
            r#""state":"backing_off","url":"http://old.example/f/"}]"#
        )
    );
}

proptest::proptest! {
    #[test]
    fn any_payload_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        let _ = parse_request(&bytes);
    }
}
