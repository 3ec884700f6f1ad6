"""Word lists for the fictional demo patients (kept apart so ``demo.py`` reads as the procedure)."""

from __future__ import annotations

from ..labels import NO_FINDING

#: Deliberately odd surnames: nobody should mistake a demo chart for a real person's.
SURNAMES = ("Testwell", "Sampleton", "Demoford", "Mockridge", "Fakesby", "Placeholm", "Dummington", "Trialmore",
            "Examplar", "Specimenko", "Pretendly", "Fictorius", "Madeupson", "Notrealova", "Protohaus",
            "Simulova", "Quillfeather", "Marblewick", "Sunderpine", "Velvetmoss", "Copperkettle",
            "Lanternfield", "Puddingstone", "Whistlecombe", "Thistlebrook")
FIRST_NAMES = {
    "F": ("Ada", "Beatrix", "Clara", "Delphine", "Edda", "Fenna", "Greta", "Hedda", "Ines", "Juno", "Kira", "Lotte"),
    "M": ("Anton", "Bruno", "Casper", "Dorian", "Emil", "Felix", "Gustav", "Hugo", "Ivo", "Jasper", "Kasimir", "Lenz"),
}

#: (condition, medication, dose) — chronic problems that matter when reading a chest film.
CONDITIONS = (
    ("COPD", "Tiotropium inhaler", "18 µg once daily"),
    ("Heart failure", "Furosemide", "40 mg once daily"),
    ("Type 2 diabetes", "Metformin", "1 g twice daily"),
    ("Immunosuppression (kidney transplant)", "Tacrolimus", "4 mg twice daily"),
    ("Asthma", "Budesonide/formoterol", "200/6 µg twice daily"),
    ("Hypertension", "Amlodipine", "5 mg once daily"),
    ("Chronic kidney disease stage 3", "", ""),
    ("Atrial fibrillation", "Apixaban", "5 mg twice daily"),
    ("Rheumatoid arthritis on methotrexate", "Methotrexate", "15 mg weekly"),
    ("Former smoker (30 pack-years)", "", ""),
    ("HIV on antiretroviral therapy", "Bictegravir/emtricitabine/tenofovir", "1 tablet daily"),
    ("Lung cancer, treated 2019", "", ""),
)

#: (substance, kind, reaction, severity)
ALLERGIES = (
    ("Penicillin", "drug", "anaphylaxis", "life-threatening"),
    ("Amoxicillin", "drug", "urticarial rash", "moderate"),
    ("Sulfonamides", "drug", "rash", "mild"),
    ("Iodinated contrast", "drug", "bronchospasm", "severe"),
    ("Codeine", "drug", "nausea and vomiting", "mild"),
    ("Aspirin", "drug", "angioedema", "severe"),
    ("Peanuts", "food", "anaphylaxis", "life-threatening"),
    ("Shellfish", "food", "hives", "moderate"),
    ("Eggs", "food", "abdominal cramps", "mild"),
    ("Cow's milk", "food", "diarrhoea", "mild"),
    ("Latex", "other", "contact dermatitis", "moderate"),
)

#: Reason for the X-ray, chosen from the source image's labels (first match wins).
REASONS = (
    ("Pneumonia", "Fever, productive cough", "Suspected community-acquired pneumonia"),
    ("Effusion", "Increasing breathlessness", "Suspected pleural effusion"),
    ("Edema", "Orthopnoea and ankle swelling", "Suspected decompensated heart failure"),
    ("Pneumothorax", "Sudden pleuritic chest pain", "Suspected pneumothorax"),
    ("Nodule", "Follow-up of pulmonary nodule", "Pulmonary nodule"),
    ("Mass", "Weight loss and haemoptysis", "Lung mass under investigation"),
    ("Atelectasis", "Post-operative hypoxia", "Possible atelectasis"),
    ("Infiltration", "Persistent cough", "Lower respiratory tract infection"),
    (NO_FINDING, "Pre-operative assessment", "Routine pre-operative film"),
)
PAST_VISITS = (
    ("Annual review", "Stable", "Medication reviewed."),
    ("Influenza vaccination", "", "Vaccine given, no reaction."),
    ("Chest infection", "Acute bronchitis", "Doxycycline for 5 days."),
    ("Fall at home", "Soft-tissue injury", "No fracture on examination."),
    ("Blood pressure check", "Hypertension", "Home readings reviewed."),
)
NOTES = (
    "Lives alone; daughter visits daily.",
    "Prefers morning appointments. Hearing aid left ear.",
    "Non-smoker. Works as a (fictional) lighthouse keeper.",
    "Interpreter requested for consultations.",
    "Former smoker, stopped 2015.",
    "Carer present at visits; consent discussed with patient.",
)


# -- Korean demo patients (the first users are Korean clinicians) ---------------------------------------
#: Fictional Korean names, family name first and no space, as a Korean chart writes them.
KOREAN_NAMES = {
    "F": ("이서연", "최수아", "정하늘", "윤서진", "한예린", "임지우", "송하은", "오다인"),
    "M": ("김민준", "박지훈", "강도윤", "조현우", "장시우", "신태희", "권준서", "황재원"),
}
KOREAN_CONDITIONS = (
    ("만성 폐쇄성 폐질환", "티오트로피움 흡입제", "18 µg 1일 1회"),
    ("심부전", "푸로세미드", "40 mg 1일 1회"),
    ("천식", "부데소니드/포르모테롤 흡입제", "200/6 µg 1일 2회"),
    ("제2형 당뇨병", "메트포르민", "1 g 1일 2회"),
    ("고혈압", "암로디핀", "5 mg 1일 1회"),
    ("심방세동", "아픽사반", "5 mg 1일 2회"),
    ("폐결핵 치료 후 상태 (2015년 완치)", "", ""),
    ("과거 흡연자", "", ""),
    ("신장 이식", "타크로리무스", "4 mg 1일 2회"),
)
KOREAN_ALLERGIES = (
    ("페니실린", "drug", "아나필락시스", "life-threatening"),
    ("아스피린", "drug", "혈관부종", "severe"),
    ("요오드 조영제", "drug", "기관지 연축", "severe"),
    ("코데인", "drug", "오심, 구토", "mild"),
    ("땅콩", "food", "아나필락시스", "life-threatening"),
    ("갑각류(새우, 게)", "food", "두드러기", "moderate"),
    ("라텍스", "other", "접촉 피부염", "moderate"),
)
KOREAN_REASONS = (
    ("Pneumonia", "발열, 가래를 동반한 기침", "지역사회획득 폐렴 의심"),
    ("Effusion", "호흡곤란 악화", "흉수 의심"),
    ("Edema", "기좌호흡 및 발목 부종", "심부전 악화 의심"),
    ("Pneumothorax", "갑작스러운 흉막성 흉통", "기흉 의심"),
    ("Nodule", "폐결절 추적 관찰", "폐결절"),
    ("Mass", "체중 감소 및 객혈", "폐 종괴 정밀 검사 중"),
    ("Atelectasis", "수술 후 저산소증", "무기폐 가능성"),
    ("Infiltration", "3주 이상 지속되는 기침", "하기도 감염"),
    (NO_FINDING, "수술 전 평가", "수술 전 정기 촬영"),
)
KOREAN_PAST_VISITS = (
    ("정기 진료", "안정", "복용 약물 검토함."),
    ("인플루엔자 예방접종", "", "접종함, 이상 반응 없음."),
    ("흉부 감염", "급성 기관지염", "독시사이클린 5일 처방."),
    ("낙상", "연부조직 손상", "진찰상 골절 소견 없음."),
    ("혈압 측정", "고혈압", "가정 혈압 기록 확인함."),
)
KOREAN_NOTES = (
    "독거 중이며 딸이 매일 방문함.",
    "오전 진료 선호. 왼쪽 귀 보청기 사용.",
    "비흡연자. (가상) 등대지기로 근무.",
    "2015년 금연. 30갑년 흡연력.",
    "보호자 동반 내원; 환자 본인에게 검사 동의 설명함.",
    "결핵 접촉자 검진 이력 있음 (가상).",
)
