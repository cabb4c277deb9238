"""The Textual app. Translates keys into core calls and shows what they return."""
