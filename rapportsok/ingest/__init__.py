"""Readers that turn an original document (PDF, scanned pages) into report text with page provenance.

``pdf``     open and validate a PDF, read its properties, run the per-page readers, assemble the text
``layout``  lines from character geometry: columns, page furniture, headings, paragraphs, tables
``ocr``     Tesseract (Swedish) for pages without a text layer
"""
