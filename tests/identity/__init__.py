"""Who may call the API, and what each role sees of a filing."""
