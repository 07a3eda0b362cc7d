//! Who is on the other end of the socket: the kernel's peer credentials mapped to a user
//! name and a role. Root and members of the `netloom` group administer; everyone else reads.

use nix::unistd::{Gid, Group, Uid, User};

/// The group whose members may change the configuration.
const ADMIN_GROUP: &str = "netloom";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Admin,
    ReadOnly,
}

impl Role {
    pub fn may_write(self) -> bool {
        self == Role::Admin
    }

    /// Whether secret nodes (password hashes) are shown to this peer.
    pub fn reader(self) -> crate::secrets::Reader {
        match self {
            Role::Admin => crate::secrets::Reader::Admin,
            Role::ReadOnly => crate::secrets::Reader::Other,
        }
    }
}

/// The peer's user name (`uid:N` when it has none) and role.
pub fn identify(uid: u32, gid: u32) -> (String, Role) {
    let user = User::from_uid(Uid::from_raw(uid)).ok().flatten();
    let name = user
        .as_ref()
        .map(|u| u.name.clone())
        .unwrap_or_else(|| format!("uid:{uid}"));
    if uid == 0 {
        return (name, Role::Admin);
    }
    let Some(admin) = Group::from_name(ADMIN_GROUP).ok().flatten() else {
        return (name, Role::ReadOnly);
    };
    let member = gid == admin.gid.as_raw()
        || admin.mem.contains(&name)
        || user.is_some_and(|u| in_group(&u, admin.gid));
    (name, if member { Role::Admin } else { Role::ReadOnly })
}

/// Supplementary membership as the system's group database has it.
fn in_group(user: &User, group: Gid) -> bool {
    let Ok(name) = std::ffi::CString::new(user.name.clone()) else {
        return false;
    };
    nix::unistd::getgrouplist(&name, user.gid)
        .map(|groups| groups.contains(&group))
        .unwrap_or(false)
}
