use super::*;

#[test]
fn roles() {
    assert!(Role::Issuer.allows(Action::Issue));
    assert!(!Role::Issuer.allows(Action::ChangeStatus));
    assert!(Role::Revoker.allows(Action::ChangeStatus));
    assert!(!Role::Revoker.allows(Action::Issue));
    assert!(Role::Admin.allows(Action::Issue) && Role::Admin.allows(Action::ChangeStatus));
}

#[test]
fn create_verify_expire_revoke() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let store = TokenStore::open(&db).unwrap();
    let (tok, rec) = store
        .create(
            vec!["SG-CLS".into()],
            Role::Issuer,
            Some(1000),
            String::new(),
            10,
        )
        .unwrap();
    assert_eq!(store.verify(&tok, 999).unwrap(), rec);
    assert!(matches!(
        store.verify(&tok, 1000),
        Err(VerifyError::Auth(AuthError::Expired))
    ));
    // One flipped secret character → invalid; stored bytes never contain the secret.
    let mut bad = tok.clone().into_bytes();
    let last = bad.len() - 1;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert!(matches!(
        store.verify(&bad, 0),
        Err(VerifyError::Auth(AuthError::Invalid))
    ));
    // `clt_<16 hex>_<43 base64url>`: the secret may itself contain '_', so cut by position
    let secret = &tok["clt_".len() + 16 + 1..];
    assert_eq!(secret.len(), 43, "{tok}");
    for v in db.open_tree(TREE).unwrap().iter().values() {
        let v = v.unwrap();
        assert!(!String::from_utf8_lossy(&v).contains(secret));
    }
    assert!(matches!(
        store.verify("Bearer x", 0),
        Err(VerifyError::Auth(AuthError::Malformed))
    ));
    assert!(store.revoke(&rec.id).unwrap());
    assert!(matches!(
        store.verify(&tok, 0),
        Err(VerifyError::Auth(AuthError::Invalid))
    ));
}

#[test]
fn minted_attribution() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let store = TokenStore::open(&db).unwrap();
    let (tok, rec) = store
        .create(vec!["*".into()], Role::Issuer, None, String::new(), 0)
        .unwrap();
    assert_eq!(token_id(&tok), Some(rec.id.as_str()));
    store.record_minted(&rec.id, &[5, 3, 9]).unwrap();
    store.record_minted(&rec.id, &[5]).unwrap(); // a replay records nothing new
    store.record_minted("ffffffffffffffff", &[4]).unwrap();
    assert_eq!(store.minted(&rec.id, None, 10).unwrap(), [3, 5, 9]);
    assert_eq!(store.minted(&rec.id, Some(3), 1).unwrap(), [5]);
    assert_eq!(
        store.minted(&rec.id, Some(9), 10).unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(
        store.minted("not-an-id", None, 10).unwrap(),
        Vec::<u64>::new()
    );
    // revoking the token keeps what it minted attributed
    assert!(store.revoke(&rec.id).unwrap());
    assert_eq!(store.minted(&rec.id, None, 10).unwrap(), [3, 5, 9]);
}

#[test]
fn creation_requests() {
    assert!(TokenStore::check_request(&["SG-CLS".into()], "ops").is_ok());
    assert_eq!(
        TokenStore::check_request(&[], ""),
        Err(TokenRequestError::Schemes)
    );
    assert_eq!(
        TokenStore::check_request(&[" ".into()], ""),
        Err(TokenRequestError::Schemes)
    );
    assert_eq!(
        TokenStore::check_request(&["*".into()], &"x".repeat(MAX_NOTE + 1)),
        Err(TokenRequestError::Note)
    );
}

#[test]
fn expiry_forms() {
    assert_eq!(parse_expiry("2d", 100).unwrap(), Some(100 + 2 * 86_400));
    assert_eq!(parse_expiry("never", 5).unwrap(), None);
    assert_eq!(parse_expiry("1970-01-02", 0).unwrap(), Some(86_400));
    assert_eq!(parse_expiry("2027-01-01", 0).unwrap(), Some(1_798_761_600));
    assert!(parse_expiry("soon", 0).is_err());
    assert!(parse_expiry("5y", 0).is_err());
    assert!(parse_expiry("2027-02-30", 0).is_err(), "impossible date");
    assert!(
        parse_expiry("1970-01-02", 86_400).is_err(),
        "not in the future"
    );
    assert!(parse_expiry("0d", 5).is_err(), "expired at once");
    assert!(parse_expiry("2027-13-01", 0).is_err());
}
