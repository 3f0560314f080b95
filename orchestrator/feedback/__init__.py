"""好差评: the applicant's ratings of a completed filing, and the follow-up of a bad one."""
