import Foundation
import PghaShell

/// File operations pgha does as root in directories another user owns (the PostgreSQL user's
/// home, data, archive and tmp directories), without ever following a link that user could
/// have planted. A path is walked from `/` one component at a time with `openat(O_NOFOLLOW)`;
/// a symbolic link on the way is followed only when root owns it and the directory holding it
/// (which no one else could have changed), and refused otherwise, naming it. The last component
/// is created, opened and changed through its descriptor (`fchown`/`fchmod`), files are written
/// to a new temporary name and renamed into place: no window where a swapped link redirects
/// root. The program is Python 3, which every node has (pcs is written in it); values are
/// argv words, content comes on stdin (secrets included), and its own text has no value in it.
public enum SafePaths {
    static let program = #"""
import os, secrets, stat, sys, pwd, grp
def fail(message):
    sys.stderr.write("pgha: " + message + "\n")
    sys.exit(3)
def ids(owner, group):
    return (pwd.getpwnam(owner).pw_uid if owner != "-" else -1, grp.getgrnam(group).gr_gid if group != "-" else -1)
def walk(path, create=False):
    parts = path.split("/")[1:]
    if not path.startswith("/") or not parts or any(p in ("", ".", "..") for p in parts):
        fail(path + ": not a plain absolute path")
    fd, here = os.open("/", os.O_RDONLY | os.O_DIRECTORY), ""
    for part in parts[:-1]:
        here += "/" + part
        try:
            st = os.stat(part, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(part, 0o755, dir_fd=fd)
            st = os.stat(part, dir_fd=fd, follow_symlinks=False)
        flags = os.O_RDONLY | os.O_DIRECTORY
        if stat.S_ISLNK(st.st_mode):
            parent = os.fstat(fd)
            if st.st_uid != 0 or parent.st_uid != 0 or parent.st_mode & 0o022:
                fail(here + " is a symbolic link another user could have made; pgha does not follow it as root: replace it with the directory itself")
        else:
            flags |= os.O_NOFOLLOW
        next_fd = os.open(part, flags, dir_fd=fd)
        os.close(fd)
        fd = next_fd
    return fd, parts[-1]
def lstat(fd, name):
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
def refuse_link(path, st, kind):
    if st is not None and stat.S_ISLNK(st.st_mode):
        fail(path + " is a symbolic link; pgha never writes through one as root: remove it, then re-run")
    if st is not None and not kind(st.st_mode):
        fail(path + " is not a " + ("directory" if kind is stat.S_ISDIR else "regular file"))
def settle(fd, uid, gid, mode):
    os.fchown(fd, uid, gid)
    if mode != "-":
        os.fchmod(fd, int(mode, 8))
op, path = sys.argv[1], sys.argv[2]
try:
    if op == "write":
        mode, (uid, gid) = sys.argv[3], ids(sys.argv[4], sys.argv[5])
        fd, name = walk(path)
        refuse_link(path, lstat(fd, name), stat.S_ISREG)
        temporary = "." + name + ".pgha-" + secrets.token_hex(4)
        out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd)
        try:
            data = sys.stdin.buffer.read()
            while data:
                data = data[os.write(out, data):]
            settle(out, uid, gid, mode)
            os.fsync(out)
            os.close(out)
            os.rename(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            os.unlink(temporary, dir_fd=fd)
            raise
    elif op == "mkdir":
        mode, (uid, gid) = sys.argv[3], ids(sys.argv[4], sys.argv[5])
        fd, name = walk(path, create=True)
        st = lstat(fd, name)
        refuse_link(path, st, stat.S_ISDIR)
        if st is None:
            os.mkdir(name, 0o700, dir_fd=fd)
        settle(os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd), uid, gid, mode)
    elif op == "touch":
        mode, (uid, gid) = sys.argv[3], ids(sys.argv[4], sys.argv[5])
        fd, name = walk(path)
        refuse_link(path, lstat(fd, name), stat.S_ISREG)
        settle(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600, dir_fd=fd), uid, gid, mode)
    elif op == "remove":
        fd, name = walk(path)
        st = lstat(fd, name)
        if st is not None:
            refuse_link(path, None if stat.S_ISLNK(st.st_mode) else st, stat.S_ISREG)
            os.unlink(name, dir_fd=fd)
    elif op == "move-aside":
        aside, (uid, gid) = sys.argv[3], ids(sys.argv[4], sys.argv[5])
        fd, name = walk(path)
        if os.path.dirname(aside) != os.path.dirname(path) or "/" in os.path.basename(aside):
            fail(aside + ": not beside " + path)
        refuse_link(path, lstat(fd, name), stat.S_ISDIR)
        if lstat(fd, os.path.basename(aside)) is not None:
            fail(aside + " exists already")
        os.rename(name, os.path.basename(aside), src_dir_fd=fd, dst_dir_fd=fd)
        os.mkdir(name, 0o700, dir_fd=fd)
        settle(os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd), uid, gid, "700")
    else:
        fail("unknown operation " + op)
except OSError as error:
    fail((error.filename if isinstance(error.filename, str) and error.filename.startswith("/") else path) + ": " + (error.strerror or str(error)))
except KeyError as error:
    fail("no such user or group: " + str(error))
"""#

    static func command(_ arguments: [String], stdin: Data? = nil) -> Command {
        Command(["python3", "-c", program] + arguments, stdin: stdin)
    }

    /// `content` written to `path` (a new file renamed over the old one), mode and owner set on it.
    public static func write(_ path: String, _ content: Data, mode: UInt32, owner: String, group: String) -> Command {
        command(["write", path, String(mode, radix: 8), owner, group], stdin: content)
    }

    /// A directory (and missing parents, owned by root), owned by `owner:group`, with `mode` (nil: as it is).
    public static func directory(_ path: String, mode: UInt32?, owner: String, group: String) -> Command {
        command(["mkdir", path, mode.map { String($0, radix: 8) } ?? "-", owner, group])
    }

    /// An empty file created if absent (standby.signal), owner and mode set.
    public static func touch(_ path: String, mode: UInt32, owner: String, group: String) -> Command {
        command(["touch", path, String(mode, radix: 8), owner, group])
    }

    /// A file (or a link, never what it points to) removed if present.
    public static func remove(_ path: String) -> Command { command(["remove", path]) }

    /// A directory renamed to `aside` (beside it), and an empty 0700 one made in its place.
    public static func moveAside(_ path: String, to aside: String, owner: String, group: String) -> Command {
        command(["move-aside", path, aside, owner, group])
    }
}
