"""Customer names in every script a billing team meets (issue 12), each with
the locale such a customer reads and the vendored Noto family that draws it
(static/vendor/fonts). Shared by the PDF and browser tests.

The Arabic name and address have no ة (teh marbuta), the Devanagari ones no
reph (र् over a letter, as in मार्ग): WeasyPrint draws both right but its PDF
text layer reads them wrong (tests/invoices/test_pdf_scripts.py,
SHARED_GLYPHS)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    script: str
    name: str  # a customer's name
    address: str  # a line of their billing address
    locale: str  # the locale they read (pricing.locales)
    family: str  # the Noto family that has its glyphs


SAMPLES = [
    Sample(
        "latin", "Société Générale Zürich — Łódź Ølstykke", "Bahnhofstraße 12", "de_DE", "Noto Sans"
    ),
    Sample("greek", "Ελληνική Εταιρεία Δοκιμών Α.Ε.", "Οδός Ερμού 25, Αθήνα", "el_GR", "Noto Sans"),
    Sample(
        "cyrillic", "ООО «Тестовая компания»", "ул. Тверская, д. 7, Москва", "ru_RU", "Noto Sans"
    ),
    Sample(
        "chinese", "北京测试科技有限公司", "北京市朝阳区建国路88号", "zh_Hans_CN", "Noto Sans SC"
    ),
    Sample("japanese", "株式会社テスト", "東京都千代田区丸の内1-1", "ja_JP", "Noto Sans JP"),
    Sample("korean", "주식회사 테스트", "서울특별시 중구 세종대로 110", "ko_KR", "Noto Sans KR"),
    Sample("arabic", "مختبر الأمل", "شارع التحرير، مصر", "ar_EG", "Noto Sans Arabic"),
    Sample("hebrew", "חברת בדיקה בע״מ", "רחוב הרצל 1, תל אביב", "he_IL", "Noto Sans Hebrew"),
    Sample(
        "devanagari",
        "परीक्षण प्राइवेट लिमिटेड",
        "गांधी रोड, नई दिल्ली",
        "hi_IN",
        "Noto Sans Devanagari",
    ),
    Sample("thai", "บริษัท ทดสอบ จำกัด", "ถนนสุขุมวิท กรุงเทพมหานคร", "th_TH", "Noto Sans Thai"),
]
