"""exaslct 4.4.0 twin of flavors/python3: the same nine steps as DockerFlavorAnalyzeImageTask classes.

Used only by tests/benchmarks/run.py, which runs ``exaslct build`` from a repository root
that holds ``client/`` (mapping sources are relative to exaslct's working directory, as in
exasol/script-languages-release). The Dockerfiles are flavors/python3's steps rewritten for
the legacy builder exaslct drives through docker-py (no ``RUN --mount``, no secrets):
dependencies are ``{{placeholder}}`` image names, bind mounts become ``COPY``.
"""

from exasol.slc.internal.tasks.build.docker_flavor_image_task import DockerFlavorAnalyzeImageTask

# The legacy builder has no BuildKit secrets, so the proxy's CA bundle (needed for pip behind
# a TLS-intercepting proxy) goes into the wheels build context like any other file.
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# Every class subclasses DockerFlavorAnalyzeImageTask directly and repeats get_path_in_flavor:
# exaslct finds steps with DockerFlavorAnalyzeImageTask.__subclasses__(), which lists direct
# subclasses only, so a shared intermediate base class would hide all of them.


class AnalyzeUdfClientDeps(DockerFlavorAnalyzeImageTask):
    def get_path_in_flavor(self):
        return "flavor_base"

    def get_build_step(self) -> str:
        return "udfclient_deps"

    def requires_tasks(self):
        return {}


class AnalyzeBuildDeps(DockerFlavorAnalyzeImageTask):
    def get_path_in_flavor(self):
        return "flavor_base"

    def get_build_step(self) -> str:
        return "build_deps"

    def requires_tasks(self):
        return {}


class AnalyzeLanguageDeps(DockerFlavorAnalyzeImageTask):
    def get_path_in_flavor(self):
        return "flavor_base"

    def get_build_step(self) -> str:
        return "language_deps"

    def requires_tasks(self):
        return {}


class AnalyzeBuildRun(DockerFlavorAnalyzeImageTask):
    def get_path_in_flavor(self):
        return "flavor_base"

    def get_build_step(self) -> str:
        return "build_run"

    def requires_tasks(self):
        return {"udfclient_deps": AnalyzeUdfClientDeps}

    def get_additional_build_directories_mapping(self):
        return {"client": "client"}


class AnalyzeWheels(DockerFlavorAnalyzeImageTask):
    def get_path_in_flavor(self):
        return "flavor_base"

    def get_build_step(self) -> str:
        return "wheels"

    def requires_tasks(self):
        return {"build_deps": AnalyzeBuildDeps}

    def get_additional_build_directories_mapping(self):
        return {"ca-certificates.crt": CA_BUNDLE}


class AnalyzeFlavorBaseDeps(DockerFlavorAnalyzeImageTask):
    def get_path_in_flavor(self):
        return "flavor_base"

    def get_build_step(self) -> str:
        return "flavor_base_deps"

    def requires_tasks(self):
        return {"language_deps": AnalyzeLanguageDeps, "wheels": AnalyzeWheels}


class AnalyzeFlavorCustomization(DockerFlavorAnalyzeImageTask):
    def get_path_in_flavor(self):
        return "flavor_base"

    def get_build_step(self) -> str:
        return "flavor_customization"

    def requires_tasks(self):
        return {"flavor_base_deps": AnalyzeFlavorBaseDeps}


class AnalyzeRelease(DockerFlavorAnalyzeImageTask):
    def get_path_in_flavor(self):
        return "flavor_base"

    def get_build_step(self) -> str:
        return "release"

    def requires_tasks(self):
        return {"flavor_customization": AnalyzeFlavorCustomization, "build_run": AnalyzeBuildRun}


class AnalyzeTest(DockerFlavorAnalyzeImageTask):
    def get_path_in_flavor(self):
        return "flavor_base"

    def get_build_step(self) -> str:
        return "test"

    def requires_tasks(self):
        return {"release": AnalyzeRelease}

    def get_additional_build_directories_mapping(self):
        return {"client": "client"}
