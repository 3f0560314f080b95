"""bank_portal"""
