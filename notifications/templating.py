"""Notice templates: Jinja2 files, an administrator's folder searched before ours.

Each notice kind (tracker.enums.NoticeKind) has one file, `notices/<kind>.txt.j2`, that
extends `notices/base.txt.j2` and fills two blocks: `subject` (one line) and `body`.
An administrator overrides any of them by putting a file of the same relative name in
`TRACKER_TEMPLATES_DIR` (Jinja2 ChoiceLoader: that folder first, then the packaged
`notifications/templates`). A template that cannot be read or rendered (bad syntax, an
unknown variable) raises TemplateProblem with the reason in Chinese: the dispatcher fails
that digest alone and records the reason.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from tracker.dates.chinese import cn_date, cn_period

PACKAGED = Path(__file__).parent / "templates"


class TemplateProblem(Exception):
    """A notice template is missing, malformed or uses an unknown variable (message in
    Chinese, naming the file and, where known, the line)."""


@lru_cache(maxsize=8)
def environment(override_dir: Path | None = None) -> jinja2.Environment:
    """The template environment: `override_dir` (if given) searched before the packaged
    templates. Plain text (no HTML escaping); an unknown variable is an error, not a blank.
    """
    loaders: list[jinja2.BaseLoader] = []
    if override_dir is not None:
        loaders.append(jinja2.FileSystemLoader(override_dir))
    loaders.append(jinja2.FileSystemLoader(PACKAGED))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders),
                             undefined=jinja2.StrictUndefined, autoescape=False,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["cn_date"] = cn_date
    env.filters["cn_period"] = cn_period
    return env


def render_notice(name: str, context: dict[str, Any], *,
                  override_dir: Path | None = None) -> tuple[str, str]:
    """(subject, body) of the notice template `name` (e.g. `notices/reminder.txt.j2`).

    The subject is the template's `subject` block on one line (whitespace runs collapsed);
    the body is the whole template. Raises TemplateProblem (Chinese) on any template error.
    """
    env = environment(override_dir)
    try:
        template = env.get_template(name)
        block = template.blocks.get("subject")
        if block is None:
            raise TemplateProblem(f"通知模板 {name} 缺少 subject 块（邮件标题）")
        subject = " ".join("".join(block(template.new_context(context))).split())
        # blank lines that conditional blocks leave behind: at most one in a row
        body = re.sub(r"\n{3,}", "\n\n", template.render(context)).lstrip("\n")
    except TemplateProblem:
        raise
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(f"通知模板 {exc.name or name} 第 {exc.lineno} 行"
                              f"语法错误：{exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise TemplateProblem(f"找不到通知模板 {exc.name}") from exc
    except jinja2.UndefinedError as exc:
        raise TemplateProblem(f"通知模板 {name} 使用了未定义的变量（{exc.message}）") from exc
    except Exception as exc:  # a filter or test raised inside an administrator's template
        raise TemplateProblem(f"通知模板 {name} 无法生成（{type(exc).__name__}：{exc}）") from exc
    if not subject:
        raise TemplateProblem(f"通知模板 {name} 的标题（subject 块）为空")
    return subject, body
