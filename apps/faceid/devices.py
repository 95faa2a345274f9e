"""The SDK's device report in meglive_data and the risky-device policy of `device_risk`
(seed 003: "when on, verify applies a risky-device blocking policy and returns the device risk
information"); docs/SDK.md, "The device report".

The report is the package's `device` object, sealed under the package's MAC with the frames, so
a client server cannot strip or edit it. A report carries every one of RISK_FLAGS as a boolean;
a `device` without any of them (SDKs before the report) is a package without a report, which
verify accepts and, when the session asked for device_risk, judges risky (NO_REPORT).
"""

RISK_FLAGS = ("emulator", "rooted", "hooked", "debugger")
NO_REPORT = "no device report"
# What the record keeps of the report besides the flags (strings, cut to TEXT_MAX characters).
DESCRIPTIVE = ("platform", "version", "model", "os_version")
TEXT_MAX = 64


def device_report_problem(device: object) -> str | None:
    """Why a package's `device` is malformed, or None: an object, and either none of the risk
    flags (no report) or all of them as booleans."""
    if not isinstance(device, dict):
        return "device is an object"
    present = [flag for flag in RISK_FLAGS if flag in device]
    if present and len(present) != len(RISK_FLAGS):
        return f"a device report carries every one of {', '.join(RISK_FLAGS)}"
    if any(not isinstance(device[flag], bool) for flag in present):
        return "device risk flags are booleans"
    return None


def _has_report(device: dict) -> bool:
    return bool(device) and all(flag in device for flag in RISK_FLAGS)


def device_risk(device: dict | None) -> dict:
    """The risky-device policy: {"risky", "reasons"}, the reasons being the flags the report
    raises (in RISK_FLAGS order), or NO_REPORT for a package without a report."""
    if device is None or not _has_report(device):
        return {"risky": True, "reasons": [NO_REPORT]}
    reasons = [flag for flag in RISK_FLAGS if device[flag] is True]
    return {"risky": bool(reasons), "reasons": reasons}


def device_summary(device: dict | None) -> dict | None:
    """What the verification record keeps of a package's report (None without one): its
    descriptive strings, its flags and whether the SDK raised the screen's brightness."""
    if device is None or not _has_report(device):
        return None
    summary: dict[str, str | bool] = {key: device[key][:TEXT_MAX] for key in DESCRIPTIVE
                                      if isinstance(device.get(key), str)}
    summary.update({flag: device[flag] for flag in RISK_FLAGS})
    if isinstance(device.get("brightness_raised"), bool):
        summary["brightness_raised"] = device["brightness_raised"]
    return summary
