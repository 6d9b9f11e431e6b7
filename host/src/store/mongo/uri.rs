//! [`mask_uri`]: a connection string fit for messages, its password replaced by `***`.

/// `mongodb://user:secret@host/` becomes `mongodb://user:***@host/`; a URI without
/// credentials is returned unchanged.
pub fn mask_uri(uri: &str) -> String {
    let Some(scheme_end) = uri.find("://").map(|i| i + 3) else {
        return uri.to_string();
    };
    let rest = &uri[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return uri.to_string();
    };
    let userinfo = &authority[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    format!("{}{user}:***{}", &uri[..scheme_end], &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::mask_uri;

    #[test]
    fn password_is_masked_and_the_rest_kept() {
        assert_eq!(
            mask_uri("mongodb+srv://bob:s3cr%40t@c0.example.net/db?retryWrites=true"),
            "mongodb+srv://bob:***@c0.example.net/db?retryWrites=true"
        );
        assert_eq!(
            mask_uri("mongodb://127.0.0.1:1/?directConnection=true"),
            "mongodb://127.0.0.1:1/?directConnection=true"
        );
        assert_eq!(mask_uri("mongodb://a@b:1,c:2"), "mongodb://a:***@b:1,c:2");
    }
}
