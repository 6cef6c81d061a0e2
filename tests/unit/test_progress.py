"""Reading buildx's plain progress: which target failed, at which instruction."""

from pathlib import Path

from slcc.commands.build import _failed_step
from slcc.engine.protocol import BakeOutcome
from slcc.loading.project import open_project
from slcc.planning.plan import make_plan
from slcc.progress.bake_log import BakeProgress, ProgressParser, fatal_failure
from slcc.progress.records import StepFailure, VertexFailure
from tests.helpers import make_repo

LOG = """\
#8 [demo_base] importing cache manifest from 127.0.0.1:5000/x/demo:cache-base
#8 ERROR: failed to configure registry cache importer: 127.0.0.1:5000/x/demo:cache-base: not found
#13 [demo_base 2/3] COPY hello.txt /hello.txt
#13 DONE 0.1s
#14 [demo_base 3/3] RUN exit 3
#15 [demo_app stage-0 1/2] COPY --from=src . /src
#15 CANCELED
#14 ERROR: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3
------
ERROR: failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3
"""


def parse(log: str, targets: list[str]) -> BakeProgress:
    parser = ProgressParser(targets)
    for i, line in enumerate(log.splitlines()):
        parser.feed(line, float(i))
    return parser.result()


def test_fatal_failure_is_the_one_bake_reports_not_a_cache_miss() -> None:
    outcome = parse(LOG, ["demo_base", "demo_app"])
    assert fatal_failure(outcome) == VertexFailure(
        "demo_base", "RUN exit 3", 'process "/bin/sh -c exit 3" did not complete successfully: exit code: 3')
    assert set(outcome.durations) == {"demo_base", "demo_app"}


def test_single_target_vertices_have_no_target_prefix() -> None:
    log = "#5 [stage-0 2/2] RUN false\n#5 ERROR: process \"/bin/sh -c false\" failed\nERROR: failed to solve: x\n"
    outcome = parse(log, ["demo_app"])
    assert fatal_failure(outcome) == VertexFailure("demo_app", "RUN false", 'process "/bin/sh -c false" failed')


def test_single_target_step_counter_without_stage_name() -> None:
    # buildx 0.13 prints "[1/2]" alone when one target has an unnamed single stage.
    log = "#7 [1/2] FROM x\n#8 [2/2] RUN exit 4\n#8 ERROR: process \"/bin/sh -c exit 4\" failed\nERROR: failed to solve: process \"/bin/sh -c exit 4\" failed\n"
    outcome = parse(log, ["demo_app"])
    assert fatal_failure(outcome) == VertexFailure("demo_app", "RUN exit 4", 'process "/bin/sh -c exit 4" failed')


def test_shared_instruction_is_attributed_to_the_step_whose_dockerfile_has_it(tmp_path: Path) -> None:
    # buildx may label base's RUN with its dependent's name; slcc must still blame base.
    repo = make_repo(tmp_path / "repo")
    project = open_project(repo, ["demo"], {"ca_bundle": "none"})
    plan = make_plan(project.flavors, project.hash_all(), {"demo": ("app",)}, "slcc", set(), set())
    progress = BakeProgress({}, (VertexFailure("demo_app", "RUN cat /hello.txt > /base.txt", "boom"),), ("ERROR: boom",))
    outcome = BakeOutcome(1, 1.0, progress)
    assert _failed_step(project, plan, outcome) == StepFailure("demo", "base", "RUN cat /hello.txt > /base.txt", "boom")
