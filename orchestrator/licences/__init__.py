"""E-business licences (电子营业执照): where OneStop checks them, for anyone who asks."""
