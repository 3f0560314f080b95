"""The scenario files' own error messages, in Chinese and English (`orchestrator.validation`)."""

from __future__ import annotations

from orchestrator.validation import register

register(
    {
        "scenario_unknown_branch": (
            "场景中没有网点“{code}”，可选：{known}",
            "no branch {code} in this scenario; known: {known}",
        ),
        "scenario_not_branch_staff": (
            "“{username}”不是网点“{branch}”的员工，该网点员工：{staff}",
            "{username} is not on the staff of branch {branch}; its staff: {staff}",
        ),
        "scenario_district_mismatch": (
            "申报的行政区划“{code}”与受理网点“{branch}”所在的“{branch_district}”不一致",
            "the filing's district {code} differs from {branch_district}, where branch {branch} is",
        ),
        "scenario_duplicate_branch": (
            "网点代码“{code}”重复",
            "branch code {code} appears more than once",
        ),
        "scenario_duplicate_username": (
            "用户名“{username}”重复",
            "username {username} appears more than once",
        ),
        "scenario_based_on_out_of_range": (
            "based_on须为filings中的序号（0至{last}）",
            "based_on must be an index into filings (0 to {last})",
        ),
        "scenario_based_on_unavailable": (
            "场景中没有可作为模板的申报（filings为空或有误）",
            "there is no valid filing to base the template on (filings is empty or invalid)",
        ),
        "scenario_one_rate": (
            "rate_per_hour与every须且只能填写一项",
            "give exactly one of rate_per_hour and every",
        ),
        "scenario_every_zero": (
            "到达间隔须大于0",
            "the interval between arrivals must be more than 0",
        ),
        "scenario_one_latency": (
            "时延须且只能为fixed、uniform、lognormal之一",
            "a latency is exactly one of fixed, uniform, lognormal",
        ),
        "scenario_range_reversed": (
            "{low}不能大于{high}",
            "{low} must not exceed {high}",
        ),
        "scenario_median_zero": (
            "对数正态分布的中位数须大于0",
            "the median of a lognormal latency must be more than 0",
        ),
        "scenario_outage_reversed": (
            "停机结束时间须晚于开始时间",
            "an outage must end after it starts",
        ),
        "scenario_trade_names_exhausted": (
            "无法为第{n}份生成的申报找到未用的字号",
            "no unused trade name is left for generated filing {n}",
        ),
    }
)
