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
