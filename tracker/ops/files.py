"""Operating-system errors in the words of the people who read them."""

from __future__ import annotations

import errno

_REASONS = {
    errno.ENOENT: "文件或目录不存在",
    errno.EACCES: "没有权限",
    errno.EPERM: "不允许该操作",
    errno.EEXIST: "文件或目录已存在",
    errno.ENOTDIR: "路径中有一项不是目录",
    errno.EISDIR: "这是一个目录，不是文件",
    errno.ENOSPC: "磁盘空间不足",
    errno.EROFS: "文件系统为只读",
    errno.ENAMETOOLONG: "文件名过长",
    errno.ENOTEMPTY: "目录不为空",
    errno.EBUSY: "文件或目录正被占用",
    errno.EXDEV: "不能跨磁盘移动",
    errno.EIO: "读写出错",
}


def os_reason(exc: OSError) -> str:
    """`exc` as a short Chinese reason ("没有权限"); the system's own words, with the error
    number, for anything not listed."""
    reason = _REASONS.get(exc.errno or -1)
    if reason:
        return reason
    return f"系统错误 {exc.errno}：{exc.strerror}" if exc.errno else str(exc)
