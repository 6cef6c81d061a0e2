# Hand-written bake file equivalent to flavors/python3 (the "raw bake" baseline
# of the benchmarks, and a fallback to build the flavor without slcc).
#
# Run from the repository root (local context paths resolve from the CWD):
#   docker buildx bake -f tests/benchmarks/raw/python3.hcl --load release
#   docker buildx bake -f tests/benchmarks/raw/python3.hcl --load test
#
# Unlike slcc it uses fixed tags (slcc-raw/python3:<step>), so it cannot tell
# fresh from stale; BuildKit's cache does all the work.

variable "BASE_IMAGE" {
  default = "debian:bookworm-slim"
}

# CA bundle for a TLS-intercepting proxy; used by the wheels step only, and
# only as a secret mount (never stored in a layer).
variable "CA_BUNDLE" {
  default = "/etc/ssl/certs/ca-certificates.crt"
}

group "default" {
  targets = ["release", "test"]
}

# No provenance attestations (buildx 0.13 adds one per image by default; slcc
# turns them off too, so the benchmark compares like with like).
target "_common" {
  attest = ["type=provenance,disabled=true"]
}

target "_base" {
  inherits = ["_common"]
  args     = { BASE_IMAGE = BASE_IMAGE }
}

target "udfclient_deps" {
  inherits = ["_base"]
  context  = "flavors/python3/udfclient_deps"
  tags     = ["slcc-raw/python3:udfclient_deps"]
}

target "build_deps" {
  inherits = ["_base"]
  context  = "flavors/python3/build_deps"
  tags     = ["slcc-raw/python3:build_deps"]
}

target "language_deps" {
  inherits = ["_base"]
  context  = "flavors/python3/language_deps"
  tags     = ["slcc-raw/python3:language_deps"]
}

target "build_run" {
  inherits = ["_common"]
  context  = "flavors/python3/build_run"
  contexts = {
    udfclient_deps = "target:udfclient_deps"
    client         = "client"
  }
  tags = ["slcc-raw/python3:build_run"]
}

target "wheels" {
  inherits = ["_common"]
  context  = "flavors/python3/wheels"
  contexts = {
    build_deps = "target:build_deps"
  }
  secret = ["id=ca,src=${CA_BUNDLE}"]
  tags   = ["slcc-raw/python3:wheels"]
}

target "flavor_base_deps" {
  inherits = ["_common"]
  context  = "flavors/python3/flavor_base_deps"
  contexts = {
    language_deps = "target:language_deps"
    wheels        = "target:wheels"
  }
  tags = ["slcc-raw/python3:flavor_base_deps"]
}

target "flavor_customization" {
  inherits = ["_common"]
  context  = "flavors/python3/flavor_customization"
  contexts = {
    flavor_base_deps = "target:flavor_base_deps"
  }
  tags = ["slcc-raw/python3:flavor_customization"]
}

target "release" {
  inherits = ["_common"]
  context  = "flavors/python3/release"
  contexts = {
    flavor_customization = "target:flavor_customization"
    build_run            = "target:build_run"
  }
  tags = ["slcc-raw/python3:release"]
}

target "test" {
  inherits = ["_common"]
  context  = "flavors/python3/test"
  contexts = {
    release = "target:release"
    client  = "client"
  }
  tags = ["slcc-raw/python3:test"]
}
