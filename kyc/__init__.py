"""Client verification: versioned profiles, encrypted documents, the appropriateness
questionnaire, risk levels, compliance review and the KYC levels that gate other actions."""
