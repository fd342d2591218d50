//! `cyberlabel trust-list` as a maintainer uses it, with the real binary: retire and compromise
//! an issuer key as of a log index, add witnesses and a 2-of-3 policy, each edit raising the
//! version; the diff says each change in plain words; the edited list signs and verifies, and
//! core enforces what it says.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use cyberlabel_core::checkpoint::Rule;
use cyberlabel_core::trust::TrustList;

fn cyberlabel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cyberlabel"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn maintainer_edits_sign_and_diff() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1.json");
    let list = dir.path().join("list.json");
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../keys-example/trust-list.EXAMPLE.json");
    std::fs::copy(&example, &v1).unwrap();
    std::fs::copy(&example, &list).unwrap();
    let kid = TrustList::from_json(&std::fs::read_to_string(&v1).unwrap())
        .unwrap()
        .issuers[0]
        .kid
        .clone();

    let said = ok(&cyberlabel(&[
        "trust-list",
        "retire-key",
        "--json",
        p(&list),
        "--kid",
        &kid,
        "--at-index",
        "500",
    ]));
    assert!(said.contains("version 2"), "{said}");
    ok(&cyberlabel(&[
        "trust-list",
        "compromise-key",
        "--json",
        p(&list),
        "--kid",
        &kid,
        "--at-index",
        "900",
    ]));
    let mut names = Vec::new();
    for n in 0..3 {
        let name = format!("witness.test/w{n}");
        let out = ok(&cyberlabel(&[
            "witness",
            "keygen",
            "--name",
            &name,
            "--out",
            p(&dir.path().join(format!("w{n}"))),
        ]));
        let vkey = out
            .lines()
            .find(|l| l.contains('+'))
            .unwrap()
            .trim()
            .to_owned();
        ok(&cyberlabel(&[
            "trust-list",
            "add-witness",
            "--json",
            p(&list),
            "--vkey",
            &vkey,
        ]));
        names.push(name);
    }
    ok(&cyberlabel(&[
        "trust-list",
        "witness-policy",
        "--json",
        p(&list),
        "--group",
        &format!("partners:2:{}", names.join(",")),
        "--quorum",
        "partners",
        "--max-age",
        "900",
    ]));
    // an unknown kid and a group naming nobody are refused, the file untouched
    let before = std::fs::read(&list).unwrap();
    assert!(
        !cyberlabel(&[
            "trust-list",
            "retire-key",
            "--json",
            p(&list),
            "--kid",
            "0011223344556677",
            "--at-index",
            "1",
        ])
        .status
        .success()
    );
    assert!(
        !cyberlabel(&[
            "trust-list",
            "witness-policy",
            "--json",
            p(&list),
            "--group",
            "g:2:nobody,else",
            "--quorum",
            "g",
        ])
        .status
        .success()
    );
    assert_eq!(std::fs::read(&list).unwrap(), before);

    let diff = ok(&cyberlabel(&["trust-list", "diff", p(&v1), p(&list)]));
    assert!(diff.contains("version 1 -> 7"), "{diff}");
    assert!(
        diff.contains(kid.as_str()) && diff.contains("retired as of log index 500"),
        "{diff}"
    );
    assert!(diff.contains("COMPROMISED as of log index 900"), "{diff}");
    assert!(diff.contains("witness witness.test/w2 added"), "{diff}");
    assert!(diff.contains("quorum partners"), "{diff}");
    let back = ok(&cyberlabel(&["trust-list", "diff", p(&list), p(&v1)]));
    assert!(
        back.contains("WARNING: version 1 is not newer than 7"),
        "{back}"
    );

    // what the file now says is what core enforces
    let edited = TrustList::from_json(&std::fs::read_to_string(&list).unwrap()).unwrap();
    assert_eq!(edited.issuers[0].retired_at_index, Some(500));
    assert_eq!(edited.issuers[0].compromised_at_index, Some(900));
    let rule = Rule::from_trust_list(&edited).unwrap().unwrap();
    assert!(!rule.satisfied(&[true, false, false]));
    assert!(rule.satisfied(&[true, false, true]));

    // sign and show
    ok(&cyberlabel(&[
        "keygen",
        "--out",
        p(&dir.path().join("tl")),
        "--name",
        "tl",
    ]));
    let cose = dir.path().join("list.cose");
    ok(&cyberlabel(&[
        "trust-list",
        "sign",
        "--json",
        p(&list),
        "--key",
        p(&dir.path().join("tl/tl.key.pem")),
        "--out",
        p(&cose),
    ]));
    let shown = ok(&cyberlabel(&[
        "trust-list",
        "show",
        p(&cose),
        "--signer",
        p(&dir.path().join("tl/tl.pub.pem")),
    ]));
    assert!(shown.contains("trust list version 7"), "{shown}");
    assert!(shown.contains("COMPROMISED as of log index 900"), "{shown}");
    assert!(shown.contains("witness policy: quorum partners"), "{shown}");
}

/// A scheme builds its list from nothing, including a partner deployment: the partner's issuer
/// in the partner's log, that log with its own witness policy, an equivalence row that is later
/// ended; bad input is refused with the accepted values named, and nothing is written.
#[test]
fn a_list_built_from_nothing_names_a_partner_and_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.json");
    let keys = dir.path().join("keys");
    ok(&cyberlabel(&["keygen", "--out", p(&keys)]));
    let pubkey = keys.join("issuer.pub.pem");
    ok(&cyberlabel(&["trust-list", "create", "--json", p(&list)]));
    // creating over an existing list is refused
    assert!(
        !cyberlabel(&["trust-list", "create", "--json", p(&list)])
            .status
            .success()
    );

    ok(&cyberlabel(&[
        "keygen",
        "--out",
        p(&keys),
        "--name",
        "log",
        "--note-name",
        "partner.example/log",
    ]));
    let log_vkey = std::fs::read_to_string(keys.join("log.vkey")).unwrap();
    let log_vkey = log_vkey.trim();
    let witness = ok(&cyberlabel(&[
        "witness",
        "keygen",
        "--name",
        "w.partner.example",
        "--out",
        p(&dir.path().join("w")),
    ]));
    let witness_vkey = witness
        .split_whitespace()
        .find(|w| w.starts_with("w.partner.example+"))
        .unwrap()
        .to_owned();
    // an issuer naming a log the list does not carry yet is refused
    let early = cyberlabel(&[
        "trust-list",
        "add-issuer",
        "--json",
        p(&list),
        "--name",
        "Partner body",
        "--public-key",
        p(&pubkey),
        "--scheme",
        "DE-BSI",
        "--log",
        "partner.example/log",
    ]);
    assert!(!early.status.success());
    assert!(String::from_utf8_lossy(&early.stderr).contains("add-log"));
    let bad_scheme = cyberlabel(&[
        "trust-list",
        "add-issuer",
        "--json",
        p(&list),
        "--name",
        "X",
        "--public-key",
        p(&pubkey),
        "--scheme",
        "XX-NOPE",
    ]);
    assert!(String::from_utf8_lossy(&bad_scheme.stderr).contains("SG-CLS"));

    ok(&cyberlabel(&[
        "trust-list",
        "add-log",
        "--json",
        p(&list),
        "--vkey",
        log_vkey,
        "--url",
        "https://partner.example/",
    ]));
    ok(&cyberlabel(&[
        "trust-list",
        "add-issuer",
        "--json",
        p(&list),
        "--name",
        "Partner body",
        "--public-key",
        p(&pubkey),
        "--scheme",
        "DE-BSI",
        "--log",
        "partner.example/log",
    ]));
    ok(&cyberlabel(&[
        "trust-list",
        "add-witness",
        "--json",
        p(&list),
        "--vkey",
        &witness_vkey,
    ]));
    ok(&cyberlabel(&[
        "trust-list",
        "witness-policy",
        "--json",
        p(&list),
        "--quorum",
        "w.partner.example",
        "--log",
        "partner.example/log",
    ]));
    let bad_effect = cyberlabel(&[
        "trust-list",
        "add-equivalence",
        "--json",
        p(&list),
        "--from",
        "DE-BSI",
        "--to",
        "SG-CLS",
        "--to-level",
        "2",
        "--effect",
        "maybe",
        "--basis",
        "x",
    ]);
    assert!(String::from_utf8_lossy(&bad_effect.stderr).contains("simplified_application"));
    ok(&cyberlabel(&[
        "trust-list",
        "add-equivalence",
        "--json",
        p(&list),
        "--from",
        "DE-BSI",
        "--to",
        "SG-CLS",
        "--to-level",
        "2",
        "--exclude-category",
        "11",
        "--effective-from",
        "2026-01-01",
        "--basis",
        "SG-DE MRA",
    ]));
    let before_end = dir.path().join("before-end.json");
    std::fs::copy(&list, &before_end).unwrap();
    ok(&cyberlabel(&[
        "trust-list",
        "end-equivalence",
        "--json",
        p(&list),
        "--from",
        "DE-BSI",
        "--to",
        "SG-CLS",
        "--on",
        "2030-01-01",
    ]));

    let t = TrustList::from_json(&std::fs::read_to_string(&list).unwrap()).unwrap();
    assert_eq!(t.version, 7);
    assert_eq!(t.issuers[0].log.as_deref(), Some("partner.example/log"));
    assert_eq!(t.logs[0].url, "https://partner.example");
    let kid = cyberlabel_core::cose::key_id(t.issuers[0].verifying_key().unwrap());
    assert_eq!(t.log_of_issuer(&kid).unwrap().origin, "partner.example/log");
    let policy = t.witness_policy_of("partner.example/log");
    assert_eq!(
        policy.quorum,
        cyberlabel_core::trust::Quorum::Name("w.partner.example".into())
    );
    let day = |d: &str| cyberlabel_core::dates::parse_date(d).unwrap();
    // the row applies in scope and in time, not to the excluded category, not after its end
    assert_eq!(t.equivalents("DE-BSI", 1, 1, day("2027-06-01")).len(), 1);
    assert!(t.equivalents("DE-BSI", 1, 11, day("2027-06-01")).is_empty());
    assert!(t.equivalents("DE-BSI", 1, 1, day("2030-01-02")).is_empty());
    let diff = ok(&cyberlabel(&[
        "trust-list",
        "diff",
        p(&before_end),
        p(&list),
    ]));
    assert!(diff.contains("version 6 -> 7"), "{diff}");
}
