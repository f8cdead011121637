"""The daily digest: choosing and recording the stories, rendering them, mailing them."""
