"""Word lists for the fictional demo patients (kept apart so ``demo.py`` reads as the procedure)."""

from __future__ import annotations

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
    ("No Finding", "Pre-operative assessment", "Routine pre-operative film"),
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
