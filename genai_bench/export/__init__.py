"""Exports of experiment folders for other tools: an Excel workbook (`genai-bench excel`) and image files of the
results view's curves (`genai-bench plot`)."""
