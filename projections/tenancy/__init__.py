"""Read models of the tenancy context: organizations and projects."""
