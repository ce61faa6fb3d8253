#!/usr/bin/env bash
# Installs the ecs-roll binary for this machine; used by action.yml, also usable by hand.
#
#   scripts/install-ecs-roll.sh            # settings come from the environment:
#
#   ECS_ROLL_INSTALL       auto (default) | release | cargo
#   ECS_ROLL_VERSION       release tag (v1, v1.2.3), `latest`, or for cargo any git ref;
#                          default: ECS_ROLL_ACTION_REF (the ref the action was used at)
#   ECS_ROLL_REPOSITORY    OWNER/REPO to install from; default: from GITHUB_ACTION_PATH
#                          (.../_actions/OWNER/REPO/REF), else GITHUB_REPOSITORY
#   ECS_ROLL_RELEASE_BASE_URL  where the assets and SHA256SUMS are: https://..., file:///dir
#                          or /dir; default https://github.com/REPO/releases/download/VERSION
#   ECS_ROLL_INSTALL_DIR   bin directory; default $RUNNER_TEMP/ecs-roll/bin (or ~/.local/bin)
#   ECS_ROLL_SOURCE_DIR    a checkout of ecs-roll, built when no version is known (`uses: ./`)
#   ECS_ROLL_INSTALL_OS / ECS_ROLL_INSTALL_ARCH   override `uname -s` / `uname -m` (tests)
#
# release: downloads ecs-roll-<target>.tar.gz for the platform and SHA256SUMS, verifies the
#   checksum and installs. Targets: x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu,
#   aarch64-apple-darwin. Any failure (unknown platform, no release, mismatch) is an error.
# cargo: `cargo install --git https://github.com/REPO --rev VERSION --locked ecs-roll`
#   (or `cargo install --path ECS_ROLL_SOURCE_DIR` when no version is known).
# auto: release, but falls back to cargo when the platform has no asset or the version has
#   no release (e.g. a branch or commit). A checksum mismatch never falls back.
#
# The bin directory is appended to $GITHUB_PATH and `path=<binary>` to $GITHUB_OUTPUT
# when those are set.
set -euo pipefail

# In GitHub Actions an error is also an annotation.
die() { echo "${GITHUB_ACTIONS:+::error::}install-ecs-roll: $*" >&2; exit 1; }
note() { echo "install-ecs-roll: $*" >&2; }

mode=${ECS_ROLL_INSTALL:-auto}
case $mode in auto | release | cargo) ;; *) die "install must be auto, release or cargo, not '$mode'" ;; esac
version=${ECS_ROLL_VERSION:-${ECS_ROLL_ACTION_REF:-}}

repo=${ECS_ROLL_REPOSITORY:-}
if [[ -z $repo && ${GITHUB_ACTION_PATH:-} =~ /_actions/([^/]+)/([^/]+)/([^/]+)/?$ ]]; then
  repo=${BASH_REMATCH[1]}/${BASH_REMATCH[2]}
  # github.action_ref is not reliably set inside composite actions: take it from the path.
  version=${version:-${BASH_REMATCH[3]}}
fi
repo=${repo:-${GITHUB_REPOSITORY:-}}

bindir=${ECS_ROLL_INSTALL_DIR:-}
if [[ -z $bindir ]]; then
  if [[ -n ${RUNNER_TEMP:-} ]]; then bindir=$RUNNER_TEMP/ecs-roll/bin; else bindir=$HOME/.local/bin; fi
fi
mkdir -p "$bindir"
bindir=$(cd "$bindir" && pwd -P)

# --- platform -> release target -------------------------------------------------------
os=$(printf %s "${ECS_ROLL_INSTALL_OS:-$(uname -s)}" | tr '[:upper:]' '[:lower:]')
arch=$(printf %s "${ECS_ROLL_INSTALL_ARCH:-$(uname -m)}" | tr '[:upper:]' '[:lower:]')
case $os in darwin | macos) os=darwin ;; esac
case $arch in amd64 | x64) arch=x86_64 ;; arm64) arch=aarch64 ;; esac
case $os/$arch in
  linux/x86_64) target=x86_64-unknown-linux-gnu ;;
  linux/aarch64) target=aarch64-unknown-linux-gnu ;;
  darwin/aarch64) target=aarch64-apple-darwin ;;
  *) target="" ;;
esac
supported="Linux x86_64, Linux aarch64, macOS arm64"

# --- the two ways to install ----------------------------------------------------------
finish() {
  local bin=$bindir/ecs-roll
  note "installed $("$bin" --version 2>/dev/null || echo ecs-roll) at $bin"
  if [[ -n ${GITHUB_PATH:-} ]]; then echo "$bindir" >>"$GITHUB_PATH"; fi
  if [[ -n ${GITHUB_OUTPUT:-} ]]; then echo "path=$bin" >>"$GITHUB_OUTPUT"; fi
  exit 0
}

install_cargo() {
  command -v cargo >/dev/null 2>&1 ||
    die "cargo is not installed (needed to build ecs-roll: $1); install Rust, or use a release on $supported"
  local root
  root=$(mktemp -d "${TMPDIR:-/tmp}/ecs-roll-cargo.XXXXXX")
  if [[ -z $version && -f ${ECS_ROLL_SOURCE_DIR:-}/Cargo.toml ]]; then
    note "building ecs-roll from $ECS_ROLL_SOURCE_DIR ($1)"
    cargo install --locked --root "$root" --path "$ECS_ROLL_SOURCE_DIR" ecs-roll
  else
    [[ -n $repo ]] || die "no repository to build from: set ECS_ROLL_REPOSITORY=OWNER/REPO"
    local url=https://github.com/$repo rev=()
    if [[ -n $version && $version != latest ]]; then
      # cargo's --rev takes a tag or a commit, not a bare branch name (e.g. @main).
      if git ls-remote --exit-code --heads "$url" "refs/heads/$version" >/dev/null 2>&1; then
        rev=(--branch "$version")
      else
        rev=(--rev "$version")
      fi
    fi
    note "building ecs-roll from $url ${rev[*]:-} ($1)"
    # ${rev[@]+...}: an empty array under `set -u` breaks bash 3.2 (macOS /bin/bash).
    cargo install --git "$url" ${rev[@]+"${rev[@]}"} --locked --root "$root" ecs-roll
  fi
  install -m 0755 "$root/bin/ecs-roll" "$bindir/ecs-roll"
  rm -rf "$root"
  finish
}

if [[ $mode == cargo ]]; then install_cargo "install: cargo"; fi
if [[ -z $version && -f ${ECS_ROLL_SOURCE_DIR:-}/Cargo.toml && -z ${ECS_ROLL_RELEASE_BASE_URL:-} ]]; then
  [[ $mode == auto ]] || die "no version given: set the version input (e.g. v1) to install a release"
  install_cargo "no version given: the action is used from a checkout (uses: ./)"
fi
if [[ -z $target ]]; then
  [[ $mode == auto ]] || die "no release asset for this platform ($os $arch); there are assets for $supported (install: cargo builds from source)"
  install_cargo "no release asset for $os $arch"
fi

# --- release download -----------------------------------------------------------------
base=${ECS_ROLL_RELEASE_BASE_URL:-}
if [[ -z $base ]]; then
  [[ -n $repo ]] || die "no repository to download from: set ECS_ROLL_REPOSITORY=OWNER/REPO"
  [[ -n $version ]] || die "no version given: set the version input (e.g. v1 or latest)"
  if [[ $version == latest ]]; then
    base=https://github.com/$repo/releases/latest/download
  else
    base=https://github.com/$repo/releases/download/$version
  fi
fi
base=${base%/}
asset=ecs-roll-$target.tar.gz
work=$(mktemp -d "${TMPDIR:-/tmp}/ecs-roll-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

# fetch NAME: 0 when fetched into $work, 4 when it does not exist, 1 on any other failure.
fetch() {
  local name=$1 src
  case $base in
    http://* | https://*)
      local code
      code=$(curl -sSL --retry 3 --retry-delay 2 -o "$work/$name" -w '%{http_code}' "$base/$name") || return 1
      case $code in 200) return 0 ;; 404) return 4 ;; *) note "$base/$name: HTTP $code"; return 1 ;; esac
      ;;
    file://*) src=${base#file://}/$name ;;
    *) src=$base/$name ;;
  esac
  [[ -f $src ]] || return 4
  cp "$src" "$work/$name"
}

rc=0
fetch "$asset" || rc=$?
if [[ $rc == 4 && $mode == auto ]]; then
  install_cargo "$base/$asset does not exist (no release for '${version:-?}')"
fi
[[ $rc == 0 ]] || die "could not download $base/$asset$([[ $rc == 4 ]] && echo ': not found')"
# Without checksums there is nothing to verify against: refuse (no build either).
rc=0
fetch SHA256SUMS || rc=$?
[[ $rc == 0 ]] || die "could not download $base/SHA256SUMS$([[ $rc == 4 ]] && echo ': not found'); refusing to install unverified"

want=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1; exit }' "$work/SHA256SUMS")
[[ -n $want ]] || die "SHA256SUMS of $base has no entry for $asset: refusing to install it"
if command -v sha256sum >/dev/null 2>&1; then
  got=$(sha256sum "$work/$asset" | cut -d' ' -f1)
else
  got=$(shasum -a 256 "$work/$asset" | cut -d' ' -f1)
fi
if [[ $got != "$want" ]]; then
  die "checksum mismatch for $asset from $base: expected $want, got $got; refusing to install it"
fi
note "$asset: sha256 $got verified"

mkdir "$work/x"
tar -xzf "$work/$asset" -C "$work/x"
[[ -f $work/x/ecs-roll ]] || die "$asset has no ecs-roll at its top level"
install -m 0755 "$work/x/ecs-roll" "$bindir/ecs-roll"
finish
