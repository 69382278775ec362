//! Parsers for the two `/proc` formats the continuity checks rest on.
//!
//! The probe script copies lines verbatim from `/proc/<pid>/mountinfo` and
//! `/proc/<pid>/stat`; parsing them here (not in sh) keeps the tricky cases
//! in one tested place: octal escapes in mount paths, a variable number of
//! optional fields before the ` - ` separator, and process names that contain
//! spaces or parentheses.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A line of `/proc/<pid>/mountinfo` or `/proc/<pid>/stat` that does not have
/// the documented shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProcfsError {
    /// A mountinfo line is missing a field or has a non-numeric ID.
    #[error("malformed mountinfo line ({reason}): {line:?}")]
    Mountinfo {
        /// The line as read.
        line: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A stat line is missing a field or has a non-numeric value.
    #[error("malformed /proc/<pid>/stat line ({reason}): {line:?}")]
    Stat {
        /// The line as read.
        line: String,
        /// What was wrong with it.
        reason: String,
    },
}

/// One mount as the kernel lists it in `/proc/<pid>/mountinfo`
/// (proc(5): `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountInfo {
    /// Field 1: unique (while the mount exists) ID of the mount. A new mount
    /// at the same path gets a new ID as long as the old one is still pinned.
    pub mount_id: u64,
    /// Field 2: ID of the parent mount.
    pub parent_id: u64,
    /// Field 3: major number of the filesystem's device (`st_dev`).
    pub major: u32,
    /// Field 3: minor number of the filesystem's device.
    pub minor: u32,
    /// Field 4: the directory of the filesystem that is the root of this
    /// mount (not `/` for bind mounts of a subdirectory), unescaped.
    pub root: String,
    /// Field 5: the mount point relative to the process's root, unescaped.
    pub mount_point: String,
    /// Field 6: per-mount options.
    pub mount_options: String,
    /// Optional fields (`shared:N`, `master:N`, ...), before the ` - `.
    pub optional_fields: Vec<String>,
    /// Filesystem type, e.g. `tmpfs`, `ext4`, `fuse.mountpoint-s3`.
    pub fs_type: String,
    /// Mount source, unescaped (device, `server:/export`, bucket name...).
    pub source: String,
    /// Per-superblock options.
    pub super_options: String,
}

impl MountInfo {
    /// Parses one line of a mountinfo file.
    pub fn parse_line(line: &str) -> Result<Self, ProcfsError> {
        let bad = |reason: &str| ProcfsError::Mountinfo {
            line: line.to_string(),
            reason: reason.to_string(),
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let sep = fields
            .iter()
            .position(|f| *f == "-")
            .ok_or_else(|| bad("no ' - ' separator"))?;
        if sep < 6 {
            return Err(bad("fewer than 6 fields before the separator"));
        }
        if fields.len() < sep + 3 {
            return Err(bad("fewer than 3 fields after the separator"));
        }
        let num = |i: usize, what: &str| -> Result<u64, ProcfsError> {
            fields[i]
                .parse()
                .map_err(|_| bad(&format!("{what} {:?} is not a number", fields[i])))
        };
        let (major, minor) = fields[2]
            .split_once(':')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| bad("major:minor is not two numbers"))?;
        Ok(MountInfo {
            mount_id: num(0, "mount ID")?,
            parent_id: num(1, "parent ID")?,
            major,
            minor,
            root: unescape(fields[3]),
            mount_point: unescape(fields[4]),
            mount_options: fields[5].to_string(),
            optional_fields: fields[6..sep].iter().map(|s| s.to_string()).collect(),
            fs_type: fields[sep + 1].to_string(),
            source: unescape(fields[sep + 2]),
            super_options: fields.get(sep + 3).unwrap_or(&"").to_string(),
        })
    }

    /// The mount that holds `path` in a whole mountinfo file: the longest
    /// mount point that is `path` or a parent of it; among equal ones the
    /// last listed, which is the one on top of a stack of mounts. `path` must
    /// be absolute and already resolved (no symlinks, no `..`). Lines that do
    /// not parse are skipped: they cannot be the answer.
    pub fn containing(mountinfo: &str, path: &str) -> Option<MountInfo> {
        let mut best: Option<MountInfo> = None;
        for mount in mountinfo
            .lines()
            .filter_map(|l| MountInfo::parse_line(l).ok())
        {
            let mp = mount.mount_point.as_str();
            let covers = mp == "/"
                || path == mp
                || (path.starts_with(mp) && path.as_bytes().get(mp.len()) == Some(&b'/'));
            let longer = best
                .as_ref()
                .is_none_or(|b| mp.len() >= b.mount_point.len());
            if covers && longer {
                best = Some(mount);
            }
        }
        best
    }

    /// `major:minor`, as mountinfo prints it.
    pub fn device(&self) -> String {
        format!("{}:{}", self.major, self.minor)
    }
}

/// Undoes the octal escapes the kernel puts in mountinfo paths
/// (`\040` space, `\011` tab, `\012` newline, `\134` backslash).
pub fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(b) = u8::try_from(v) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The fields of `/proc/<pid>/stat` that identify a process over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcStat {
    /// Field 1.
    pub pid: u32,
    /// Field 2 without the parentheses (may contain spaces and `)`).
    pub comm: String,
    /// Field 3, e.g. `S`, `R`, `T` (stopped), `Z` (zombie).
    pub state: char,
    /// Field 4.
    pub ppid: u32,
    /// Field 22: when the process started, in clock ticks after boot. A PID
    /// can be reused by a new process; PID + start time cannot.
    pub start_time: u64,
}

impl ProcStat {
    /// Parses the single line of `/proc/<pid>/stat`.
    pub fn parse(line: &str) -> Result<Self, ProcfsError> {
        let bad = |reason: &str| ProcfsError::Stat {
            line: line.to_string(),
            reason: reason.to_string(),
        };
        let line_trim = line.trim_end();
        let open = line_trim
            .find(" (")
            .ok_or_else(|| bad("no '(' before the name"))?;
        // The name can contain ')' itself: the last ')' closes it.
        let close = line_trim
            .rfind(')')
            .ok_or_else(|| bad("no ')' after the name"))?;
        if close < open {
            return Err(bad("')' before '('"));
        }
        let pid = line_trim[..open]
            .parse()
            .map_err(|_| bad("PID is not a number"))?;
        let comm = line_trim[open + 2..close].to_string();
        // Fields 3.. follow the name; field N is rest[N - 3].
        let rest: Vec<&str> = line_trim[close + 1..].split_whitespace().collect();
        let field = |n: usize| -> Result<&str, ProcfsError> {
            rest.get(n - 3).copied().ok_or_else(|| {
                bad(&format!(
                    "only {} fields, field {n} missing",
                    rest.len() + 2
                ))
            })
        };
        let state = field(3)?.chars().next().ok_or_else(|| bad("empty state"))?;
        let ppid = field(4)?
            .parse()
            .map_err(|_| bad("field 4 (ppid) is not a number"))?;
        let start_time = field(22)?
            .parse()
            .map_err(|_| bad("field 22 (starttime) is not a number"))?;
        Ok(ProcStat {
            pid,
            comm,
            state,
            ppid,
            start_time,
        })
    }
}

/// A file's identity on a host: device + inode, as `stat -c '%d %i'` prints
/// them. Two paths with the same `FileId` are the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileId {
    /// `st_dev` in decimal.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let major = nix::sys::stat::major(self.dev);
        let minor = nix::sys::stat::minor(self.dev);
        write!(f, "inode {} on dev {major}:{minor}", self.ino)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Copied from a kind node and from this machine (shapes, not values).
    const MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
1510 27 0:52 / /var/lib/kubelet/pods/5c1e/volumes/kubernetes.io~csi/pvc-1/mount rw,nosuid,nodev,relatime shared:612 master:1 - fuse.mountpoint-s3 mountpoint-s3 rw,user_id=0,group_id=0,default_permissions
1600 27 0:60 /dir\\040with\\040space /mnt/my\\040vol rw,relatime shared:7 - tmpfs tmpfs rw,size=1024k
1601 1600 0:61 / /mnt/my\\040vol rw,relatime - tmpfs none rw
";

    #[test]
    fn parses_a_line_with_optional_fields() {
        let line = MOUNTINFO.lines().nth(2).unwrap();
        let m = MountInfo::parse_line(line).unwrap();
        assert_eq!(m.mount_id, 1510);
        assert_eq!(m.parent_id, 27);
        assert_eq!((m.major, m.minor), (0, 52));
        assert_eq!(m.device(), "0:52");
        assert_eq!(m.root, "/");
        assert_eq!(
            m.mount_point,
            "/var/lib/kubelet/pods/5c1e/volumes/kubernetes.io~csi/pvc-1/mount"
        );
        assert_eq!(m.optional_fields, vec!["shared:612", "master:1"]);
        assert_eq!(m.fs_type, "fuse.mountpoint-s3");
        assert_eq!(m.source, "mountpoint-s3");
        assert!(m.super_options.starts_with("rw,user_id=0"));
    }

    #[test]
    fn parses_a_line_without_optional_fields_and_unescapes_paths() {
        let m = MountInfo::parse_line(MOUNTINFO.lines().nth(3).unwrap()).unwrap();
        assert!(m.optional_fields == vec!["shared:7"]);
        assert_eq!(m.root, "/dir with space");
        assert_eq!(m.mount_point, "/mnt/my vol");
        let m = MountInfo::parse_line(MOUNTINFO.lines().next().unwrap()).unwrap();
        assert!(m.optional_fields.is_empty());
        assert_eq!(m.fs_type, "proc");
    }

    #[test]
    fn rejects_malformed_lines_naming_the_problem() {
        let err = MountInfo::parse_line("22 27 0:21 / /proc rw,relatime proc proc rw").unwrap_err();
        assert!(err.to_string().contains("no ' - ' separator"), "{err}");
        let err = MountInfo::parse_line("x 27 0:21 / /proc rw - proc proc rw").unwrap_err();
        assert!(err.to_string().contains("mount ID \"x\""), "{err}");
        let err = MountInfo::parse_line("1 2 021 / /proc rw - proc proc rw").unwrap_err();
        assert!(err.to_string().contains("major:minor"), "{err}");
        let err = MountInfo::parse_line("1 2 0:1 / /proc rw - proc").unwrap_err();
        assert!(err.to_string().contains("after the separator"), "{err}");
    }

    #[test]
    fn finds_the_mount_holding_a_path() {
        let find = |p: &str| MountInfo::containing(MOUNTINFO, p).map(|m| m.mount_id);
        assert_eq!(find("/"), Some(27));
        assert_eq!(find("/proc/self"), Some(22));
        // A sibling sharing a prefix is not a parent.
        assert_eq!(find("/procfoo"), Some(27));
        // Two mounts stacked on the same point: the later one is visible.
        assert_eq!(find("/mnt/my vol"), Some(1601));
        assert_eq!(find("/mnt/my vol/data/log"), Some(1601));
        assert_eq!(find("/var/lib/kubelet/pods/5c1e"), Some(27));
    }

    #[test]
    fn unescape_keeps_what_is_not_an_escape() {
        assert_eq!(unescape(r"a\040b"), "a b");
        assert_eq!(unescape(r"a\134b"), r"a\b");
        assert_eq!(unescape(r"a\09"), r"a\09");
        assert_eq!(unescape(r"end\04"), r"end\04");
        assert_eq!(unescape(r"tail\"), r"tail\");
    }

    #[test]
    fn parses_stat_with_an_awkward_process_name() {
        // A real busybox writer line, then a name with a space and ')'.
        let line = "10746 (busybox) S 1 10746 10746 0 -1 4194304 389 1367 0 1 0 0 1 0 20 0 1 0 87795 3362816 582 18446744073709551615 94306384621568 94306385211085 140721048960384 0 0 0 0 6 81921 1 0 0 17 0 0 0 0 0 0";
        let s = ProcStat::parse(line).unwrap();
        assert_eq!(
            s,
            ProcStat {
                pid: 10746,
                comm: "busybox".into(),
                state: 'S',
                ppid: 1,
                start_time: 87795
            }
        );
        let line = "77 (mount s3) x) T 5 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 424242 0 0\n";
        let s = ProcStat::parse(line).unwrap();
        assert_eq!(s.comm, "mount s3) x");
        assert_eq!(s.state, 'T');
        assert_eq!(s.start_time, 424242);
    }

    #[test]
    fn rejects_truncated_stat() {
        let err = ProcStat::parse("42 (sh) S 1 42 42 0").unwrap_err();
        assert!(err.to_string().contains("field 22 missing"), "{err}");
        let err = ProcStat::parse("sh S 1").unwrap_err();
        assert!(err.to_string().contains("no '('"), "{err}");
    }

    #[test]
    fn file_id_shows_major_minor() {
        let id = FileId {
            dev: nix::sys::stat::makedev(0, 39),
            ino: 1,
        };
        assert_eq!(id.to_string(), "inode 1 on dev 0:39");
    }
}
