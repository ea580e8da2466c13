//! Volume ACLs as SX 2.3 serves them: `GET /<vol>?o=acl` lists rights, `PUT /<vol>?o=acl`
//! changes them in a job (fcgi-actions.c; fcgi-actions-volume.c `fcgi_list_acl`,
//! `fcgi_acl_volume`; hashfs.c `sx_hashfs_list_acl`, `sx_hashfs_get_access`).

use super::*;

/// One user's entry: "manager" only when the request asks for the newer format (`&manager`;
/// SX 2.3 shows it for the owner too), "owner" for the volume's owner.
fn entry(privs: Privs, manager: bool, owner: bool, with_manager: bool) -> Value {
    let mut rights = Vec::new();
    if privs.read {
        rights.push("read");
    }
    if privs.write {
        rights.push("write");
    }
    if with_manager && (owner || manager) {
        rights.push("manager");
    }
    if owner {
        rights.push("owner");
    }
    json!(rights)
}

/// `GET /<vol>?o=acl[&manager]`: a user with some right on the volume sees its own entry;
/// an admin, the owner or a manager sees every user with a right, and the owner.
pub(super) fn list_acl(st: &State, name: &str, q: &Query, user: &str) -> Answer {
    let vol = st.volume(name)?;
    let (read, write) = st.privs(user, vol);
    let manager = st.is_manager(user, vol);
    if !read && !write && !manager {
        return fail(403, "Permission denied: not enough privileges");
    }
    let with_manager = q.has("manager");
    let mut out = Map::new();
    out.insert(
        user.to_owned(),
        entry(
            Privs {
                read,
                write,
                manager,
            },
            manager,
            vol.owner == user,
            with_manager,
        ),
    );
    if manager {
        for (name, privs) in &vol.privs {
            let owner = vol.owner == *name;
            let shown = privs.read || privs.write || privs.manager || owner;
            if name != user && shown && st.users.contains_key(name) {
                out.insert(
                    name.clone(),
                    entry(*privs, privs.manager, owner, with_manager),
                );
            }
        }
    }
    json_ok(Value::Object(out))
}

/// `PUT /<vol>?o=acl` with `{"grant-read":[users],…,"revoke-manager":[users]}`: the owner or
/// a manager may change read and write, only the owner (or an admin) the manager right. An
/// unknown user fails the request (503, as SX's job creation does: seen on SX 2.3, where the
/// node then fails its next writes with "failed to start database transaction" until it is
/// restarted); an admin user fails the job. The changes apply in the body's order.
pub(super) fn change_acl(st: &mut State, n: usize, name: &str, user: &str, body: &[u8]) -> Answer {
    let admin = st.is_admin(user);
    let owner = st.volumes.get(name).is_some_and(|v| v.owner == user);
    if !admin && !st.volumes.get(name).is_some_and(|v| st.is_manager(user, v)) {
        return fail(403, "Permission denied: not enough privileges");
    }
    let changes = parse_changes(body)?;
    if changes.iter().any(|c| c.right == Right::Manager) && !admin && !owner {
        return fail(
            403,
            "Permission denied: granting/revoking the manager privilege requires owner or admin privilege",
        );
    }
    if !st.volumes.contains_key(name) {
        return fail(404, &format!("Failed to get volume '{name}'"));
    }
    if let Some(unknown) = changes.iter().find(|c| !st.users.contains_key(&c.user)) {
        return fail(
            503,
            &format!("Cannot retrieve user id for '{}'", unknown.user),
        );
    }
    if changes.iter().any(|c| st.is_admin(&c.user)) {
        return st.new_job(
            n,
            user,
            Some("Cannot grant/revoke privileges for admin user".into()),
        );
    }
    if let Some(vol) = st.volumes.get_mut(name) {
        for change in changes {
            let privs = vol.privs.entry(change.user).or_default();
            let bit = match change.right {
                Right::Read => &mut privs.read,
                Right::Write => &mut privs.write,
                Right::Manager => &mut privs.manager,
            };
            *bit = change.grant;
        }
    }
    st.new_job(n, user, None)
}

#[derive(Clone, Copy, PartialEq)]
enum Right {
    Read,
    Write,
    Manager,
}

struct Change {
    user: String,
    right: Right,
    grant: bool,
}

/// The body, read as SX's streaming parser reads it (its actions match only strings inside
/// the arrays of the six keys): the changes in the body's order, everything else (other keys,
/// other values, a body that is not an object) ignored; only JSON that does not parse is 400.
fn parse_changes(body: &[u8]) -> Result<Vec<Change>, Fail> {
    match serde_json::from_slice::<ChangeList>(body) {
        Ok(list) => Ok(list.0),
        Err(e) => fail(400, &format!("JSON parser failed: {e}")),
    }
}

struct ChangeList(Vec<Change>);

impl<'de> serde::Deserialize<'de> for ChangeList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ChangeListVisitor)
    }
}

struct ChangeListVisitor;

impl<'de> serde::de::Visitor<'de> for ChangeListVisitor {
    type Value = ChangeList;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ChangeList, A::Error> {
        let mut changes = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let (grant, right) = match key.as_str() {
                "grant-read" => (true, Right::Read),
                "grant-write" => (true, Right::Write),
                "grant-manager" => (true, Right::Manager),
                "revoke-read" => (false, Right::Read),
                "revoke-write" => (false, Right::Write),
                "revoke-manager" => (false, Right::Manager),
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    continue;
                }
            };
            let users: Value = map.next_value()?;
            let names = users
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str);
            changes.extend(names.map(|user| Change {
                user: user.to_owned(),
                right,
                grant,
            }));
        }
        Ok(ChangeList(changes))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ChangeList, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(ChangeList(Vec::new()))
    }

    fn visit_bool<E>(self, _: bool) -> Result<ChangeList, E> {
        Ok(ChangeList(Vec::new()))
    }
    fn visit_i64<E>(self, _: i64) -> Result<ChangeList, E> {
        Ok(ChangeList(Vec::new()))
    }
    fn visit_u64<E>(self, _: u64) -> Result<ChangeList, E> {
        Ok(ChangeList(Vec::new()))
    }
    fn visit_f64<E>(self, _: f64) -> Result<ChangeList, E> {
        Ok(ChangeList(Vec::new()))
    }
    fn visit_str<E>(self, _: &str) -> Result<ChangeList, E> {
        Ok(ChangeList(Vec::new()))
    }
    fn visit_unit<E>(self) -> Result<ChangeList, E> {
        Ok(ChangeList(Vec::new()))
    }
}
