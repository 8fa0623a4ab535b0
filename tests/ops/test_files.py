"""Operating-system errors in Chinese (tracker.ops.files)."""

from __future__ import annotations

import errno

from tracker.ops.files import os_reason


def test_os_errors_in_chinese():
    assert os_reason(PermissionError(errno.EACCES, "Permission denied")) == "没有权限"
    assert os_reason(FileExistsError(errno.EEXIST, "File exists")) == "文件或目录已存在"
    assert os_reason(OSError(errno.ENOSPC, "No space left on device")) == "磁盘空间不足"
    assert os_reason(OSError(errno.EMLINK, "Too many links")) == "系统错误 31：Too many links"
