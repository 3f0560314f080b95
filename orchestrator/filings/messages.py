"""What a clerk is told when a filing is refused: each error code, in Chinese and English.

Registered in the one catalogue of validation errors (`orchestrator.validation`); the codes
are stable, for programs; the messages are for people, with {placeholders} from the error.
"""

from __future__ import annotations

from orchestrator.validation import register

ERROR_MESSAGES: dict[str, tuple[str, str]] = {
    # code: (Chinese, English); {placeholders} come from the error's ctx.
    "district_unknown": (
        "OneStop尚未开通行政区划代码“{code}”（GB/T 2260）",
        "District code {code} (GB/T 2260) is not served by OneStop",
    ),
    "industry_code_format": (
        "行业代码须为2至4位数字（GB/T 4754-2017），如“7511”",
        "An industry code is 2 to 4 digits (GB/T 4754-2017), e.g. 7511",
    ),
    "industry_unknown": (
        "行业代码“{code}”不属于GB/T 4754-2017的任何大类",
        "Industry code {code} belongs to no GB/T 4754-2017 division",
    ),
    "industry_not_for_enterprises": (
        "“{division_zh}”属于门类{section}“{section_zh}”，不能作为企业的主营行业",
        "Division {division} is in section {section} ({section_en}), "
        "which cannot be a company's main industry",
    ),
    "region_not_of_district": (
        "名称中的行政区划“{region}”须为本地、所属市或省的名称，如“{example}”",
        "The administrative division {region} must be the district's, its city's or its "
        "province's name, e.g. {example}",
    ),
    "region_needs_city": (
        "市辖区名称须冠以所属市的名称，如“{example}”",
        "A city district's name must follow its city's name, e.g. {example}",
    ),
    "trade_name_invalid": (
        "字号须由两个以上汉字组成",
        "The trade name (字号) must be two or more Chinese characters",
    ),
    "trade_name_is_region": (
        "字号不能使用行政区划名称“{trade_name}”",
        "The trade name may not be the administrative division name {trade_name}",
    ),
    "industry_term_invalid": (
        "行业或经营特点须为两个以上汉字，如“农业科技”",
        "The industry or business feature must be two or more Chinese characters, e.g. 农业科技",
    ),
    "organisation_form_unknown": (
        "组织形式须为以下之一：{forms}",
        "The organisation form must be one of: {forms}",
    ),
    "organisation_form_not_offered": (
        "OneStop只开办有限责任公司，不能使用组织形式“{form}”",
        "OneStop opens limited liability companies only; {form} ({form_en}) is not available",
    ),
    "organisation_form_mismatch": (
        "组织形式“{form}”不适用于{type_zh}",
        "The organisation form {form} does not fit a {type_en}",
    ),
    "prohibited_word": (
        "名称含禁用词“{word}”：{reason_zh}",
        "The name contains the refused word {word}: {reason_en}",
    ),
    "id_number_format": (
        "居民身份证号码须为18位：17位数字加1位校验码（数字或X）",
        "A resident ID number has 18 characters: 17 digits and a check character (digit or X)",
    ),
    "id_number_check_char": (
        "身份证号码校验码不符（GB 11643），请核对号码",
        "The check character does not match (GB 11643); please re-check the number",
    ),
    "id_number_birth_date": (
        "身份证号码中的出生日期{birth}不存在",
        "The birth date in the ID number ({birth}) is not a real date",
    ),
    "birth_after_filing": (
        "身份证号码中的出生日期{birth}晚于填报日期{on}",
        "The birth date in the ID number ({birth}) is after the filing date {on}",
    ),
    "minor": (
        "{role_zh}须年满18周岁（填报日{on}时为{age}周岁）",
        "The {role_en} must be 18 or older (aged {age} on {on})",
    ),
    "staff_underage": (
        "参保员工须年满16周岁（填报日{on}时为{age}周岁）",
        "Staff must be 16 or older (aged {age} on {on})",
    ),
    "mobile_format": (
        "手机号码须为11位中国大陆号码（以1开头，第二位为3至9）",
        "A mobile number is an 11-digit mainland China number (1, then 3–9, then 9 digits)",
    ),
    "duplicate_person": (
        "身份证号码{id_number}重复出现",
        "Resident ID number {id_number} appears more than once",
    ),
    "too_few_shareholders": (
        "{type_zh}至少须有{min}名股东（现有{count}名）{hint_zh}",
        "A {type_en} needs at least {min} shareholders (there are {count}){hint_en}",
    ),
    "too_many_shareholders": (
        "{type_zh}最多{max}名股东（现有{count}名）",
        "A {type_en} has at most {max} shareholder(s) (there are {count})",
    ),
    "shares_total": (
        "股东出资比例合计须为100%（现为{total}%）",
        "Shareholders' shares must add up to 100% (they add up to {total}%)",
    ),
    "address_not_in_district": (
        "住所须位于{district_zh}，地址中应写明“{district_zh}”",
        "The address must be in {district_en} and name it ({district_zh})",
    ),
    "official_seal_required": (
        "须刻制公章",
        "The official seal (公章) is required",
    ),
    "bank_unknown": (
        "未知的银行代码“{code}”",
        "Unknown bank code {code}",
    ),
    "bank_not_partner": (
        "{bank_zh}不是{district_zh}的合作银行，可选：{partners}",
        "{bank_en} is not a partner bank in {district_en}; choose one of: {partners}",
    ),
    "branch_code_format": (
        "网点代码须为1至32位字母、数字或连字符",
        "A branch code is 1 to 32 letters, digits or hyphens",
    ),
    "material_unknown": (
        "材料目录中没有“{code}”",
        "Unknown material {code}: it is not in the materials catalogue",
    ),
    "capital_too_large": (
        "注册资本最多为{max_yuan}元（登记申请表所能填写的上限）",
        "The registered capital can be at most {max_yuan} yuan, the most the registration "
        "form holds",
    ),
    "text_unprintable": (
        "不能含有控制字符或无法显示的字符（第{position}个字符）",
        "Must not contain control or unprintable characters (character {position})",
    ),
    "digit_not_ascii": (
        "数字须为0至9（“{char}”是其他文字的数字）",
        "Digits must be 0 to 9 ({char} is a digit of another script)",
    ),
    "account_bank_not_branch": (
        "基本存款账户须开在受理网点所属的{branch_bank_zh}，不能开在{bank_zh}{also_zh}",
        "The basic account must be opened at the filing branch's bank, {branch_bank_en}, "
        "not at {bank_en}{also_en}",
    ),
    "not_carried_by_material": (
        "补正“{material_zh}”只能填写：{fields_zh}",
        "A supplement of {material_en} may set only: {fields_en}",
    ),
    "essential_material_missing": (
        "缺少必备材料，不能受理：{names_zh}",
        "Essential materials are missing, the filing cannot be accepted: {names_en}",
    ),
    "credit_code_format": (
        "统一社会信用代码须为18位数字或大写字母（不含I、O、Z、S、V）",
        "A unified social credit code is 18 digits or capital letters (no I, O, Z, S, V)",
    ),
    "credit_code_check_char": (
        "统一社会信用代码校验码不符（GB 32100）",
        "The check character of the unified social credit code does not match (GB 32100)",
    ),
}

register(ERROR_MESSAGES)
